//! A userspace WireGuard interface: a boringtun device (its own threads, a TUN interface), configured with the
//! cross-platform UAPI over a socket pair, and the interface's addresses and routes set with iproute2's `ip`, as
//! wg-quick does. Needs CAP_NET_ADMIN.
//!
//! Why a socket pair and not boringtun's own `/var/run/wireguard/<interface>.sock`: with that socket boringtun also
//! takes SIGINT and SIGTERM (through a signalfd) and stops the device on them, racing the process's own shutdown,
//! which then cannot take its routes and DNS down in order. The UAPI socket is still offered, served by this
//! process and forwarded to the pair, so `wg show <interface>` reads the device as for any WireGuard interface.

use std::io::{BufRead as _, BufReader, Write as _};
use std::os::fd::IntoRawFd as _;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use boringtun::device::{DeviceConfig, DeviceHandle};
use ipnet::IpNet;

use super::peers::{LiveDevice, UapiError, parse_get, parse_set};

/// Where boringtun (and wireguard-go, and `wg`) keep the UAPI sockets.
const SOCKET_DIR: &str = "/var/run/wireguard";

/// Why a WireGuard interface could not be brought up or configured.
#[derive(Debug, thiserror::Error)]
pub enum DeviceError {
    /// No permission to create a TUN interface: not root and no CAP_NET_ADMIN, or no `/dev/net/tun`.
    #[error(
        "cannot create the WireGuard interface {interface}: {reason} (a userspace WireGuard interface needs root or \
         CAP_NET_ADMIN and /dev/net/tun)"
    )]
    NotPermitted {
        /// The interface name.
        interface: String,
        /// The system's answer.
        reason: String,
    },
    /// An interface of that name exists already (another tunnel, or a previous run still up).
    #[error("cannot create the WireGuard interface {interface}: {reason}")]
    Create {
        /// The interface name.
        interface: String,
        /// boringtun's answer.
        reason: String,
    },
    /// The device's UAPI did not answer.
    #[error("cannot talk to the WireGuard interface {interface}: {reason}")]
    Uapi {
        /// The interface name.
        interface: String,
        /// The UAPI socket offered for `wg`.
        socket: PathBuf,
        /// What failed.
        reason: String,
    },
    /// The device refused a configuration (a UAPI `errno`).
    #[error("the WireGuard interface {interface} refused a configuration: {source}")]
    Refused {
        /// The interface name.
        interface: String,
        /// The UAPI answer.
        source: UapiError,
    },
    /// `ip` failed or is missing.
    #[error("`ip {args}` failed: {reason}")]
    Ip {
        /// The arguments.
        args: String,
        /// Its stderr, or why it could not run (e.g. iproute2 not installed).
        reason: String,
    },
}

/// A running boringtun device; dropping it stops the device, and the kernel removes the interface (with its
/// addresses and routes) when the last TUN queue closes.
pub struct Device {
    interface: String,
    socket: PathBuf,
    /// Our end of the UAPI socket pair; one request at a time.
    uapi: Uapi,
    stop: Arc<AtomicBool>,
    _handle: DeviceHandle,
}

impl Drop for Device {
    fn drop(&mut self) {
        // Stop serving the UAPI socket: flag, then wake the accept with a connection of our own.
        self.stop.store(true, Ordering::Relaxed);
        let _ = UnixStream::connect(&self.socket);
        let _ = std::fs::remove_file(&self.socket);
    }
}

/// The UAPI channel, shared by the process and the `wg show` proxy. `None` once an exchange failed halfway: a late
/// answer could pair with the next request, so none is made any more (the gateway then stops, and its restart
/// restores every peer).
type Uapi = Arc<Mutex<Option<BufReader<UnixStream>>>>;

/// One request over the channel; a failure breaks the channel for good.
fn exchange_on(uapi: &Uapi, request: &str) -> std::io::Result<String> {
    let mut channel = uapi.lock().expect("the UAPI lock is never poisoned");
    let stream = channel.as_mut().ok_or_else(|| {
        std::io::Error::new(
            std::io::ErrorKind::BrokenPipe,
            "an earlier request to the device failed halfway; the channel is closed",
        )
    })?;
    let answer = exchange(stream, request);
    if answer.is_err() {
        *channel = None;
    }
    answer
}

/// Sends one UAPI request over `stream` and reads the answer up to its `errno=` line.
fn exchange(stream: &mut BufReader<UnixStream>, request: &str) -> std::io::Result<String> {
    // boringtun reads `get=1` as one line and would take the protocol's empty line after it for a request of its
    // own on this long-lived stream (answering it with errno=5), so it gets the command line alone.
    let request = if request.starts_with("get=1\n") {
        "get=1\n"
    } else {
        request
    };
    stream.get_mut().write_all(request.as_bytes())?;
    let mut answer = String::new();
    loop {
        let mut line = String::new();
        if stream.read_line(&mut line)? == 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "the device closed its UAPI socket",
            ));
        }
        let end = line.starts_with("errno=");
        answer.push_str(&line);
        if end {
            // The answer ends with an empty line after errno.
            stream.read_line(&mut answer)?;
            return Ok(answer);
        }
    }
}

/// boringtun answers `last_handshake_time_sec` with the time since the handshake, where the protocol (and `wg`,
/// which would print "56 years ago") expects a Unix time: rewritten for `wg`'s requests.
fn handshakes_as_unix_time(answer: &str) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let mut out = String::with_capacity(answer.len());
    let mut age_sec: Option<u64> = None;
    for line in answer.split_inclusive('\n') {
        if let Some(sec) = line.trim_end().strip_prefix("last_handshake_time_sec=") {
            age_sec = sec.parse().ok();
            continue;
        }
        if let Some(nsec) = line.trim_end().strip_prefix("last_handshake_time_nsec=") {
            if let (Some(sec), Ok(nsec)) = (age_sec.take(), nsec.parse::<u32>()) {
                let at = now.saturating_sub(Duration::new(sec, nsec));
                out.push_str(&format!(
                    "last_handshake_time_sec={}\nlast_handshake_time_nsec={}\n",
                    at.as_secs(),
                    at.subsec_nanos()
                ));
            }
            continue;
        }
        out.push_str(line);
    }
    out
}

/// Serves `/var/run/wireguard/<interface>.sock` for `wg show`, forwarding each `get` to the device; a `set` is
/// refused with EPERM.
fn serve_socket(listener: UnixListener, uapi: Uapi, stop: Arc<AtomicBool>) {
    for connection in listener.incoming() {
        if stop.load(Ordering::Relaxed) {
            return;
        }
        let Ok(connection) = connection else { continue };
        let _ = connection.set_read_timeout(Some(Duration::from_secs(5)));
        let _ = connection.set_write_timeout(Some(Duration::from_secs(5)));
        // Only the first line decides, read with a cap: `get=1` is served; anything else, `set=1` included, is
        // refused. The device is this process's to configure (from the repository), and a `set` naming an existing
        // peer would panic boringtun's device.
        let mut first = String::new();
        let _ = std::io::Read::take(BufReader::new(&connection), 64).read_line(&mut first);
        if first.is_empty() {
            continue;
        }
        if first != "get=1\n" {
            let mut writer = &connection;
            let errno: &[u8] = if first.starts_with("set=1") {
                b"errno=1\n\n"
            } else {
                b"errno=22\n\n"
            };
            let _ = writer.write_all(errno);
            continue;
        }
        let request = "get=1\n";
        let answer = exchange_on(&uapi, request);
        let answer = answer.map_or_else(|_| "errno=5\n\n".into(), |a| handshakes_as_unix_time(&a));
        let mut writer = &connection;
        let _ = writer.write_all(answer.as_bytes());
    }
}

impl Device {
    /// Creates the interface `interface` (at most 15 bytes) with `threads` worker threads and waits for its UAPI
    /// socket. The device is made on a thread of its own: boringtun blocks SIGINT and SIGTERM on the thread that
    /// makes it (to read them from a signalfd), and the process's own signal handling must keep them.
    ///
    /// # Errors
    /// [`DeviceError::NotPermitted`] without CAP_NET_ADMIN, [`DeviceError::Create`] otherwise.
    pub fn start(interface: &str, threads: usize) -> Result<Device, DeviceError> {
        let name = interface.to_owned();
        let create = |reason: String| DeviceError::Create {
            interface: interface.to_owned(),
            reason,
        };
        check_name(interface).map_err(|reason| create(reason.to_owned()))?;
        // boringtun opens the TUN device multi-queue: an interface of that name here would be joined, not refused.
        if std::path::Path::new("/sys/class/net")
            .join(interface)
            .exists()
        {
            return Err(create(
                "an interface of that name exists already (another tunnel?); choose another with --interface".into(),
            ));
        }
        // The socket path is shared by every network namespace: one that answers belongs to a live interface.
        let socket = PathBuf::from(format!("{SOCKET_DIR}/{interface}.sock"));
        if UnixStream::connect(&socket).is_ok() {
            return Err(create(format!(
                "{} is in use by another WireGuard interface of that name (maybe in another network namespace); \
                 choose another with --interface",
                socket.display()
            )));
        }
        let (ours, theirs) = UnixStream::pair().map_err(|e| create(e.to_string()))?;
        let config = DeviceConfig {
            n_threads: threads.max(1),
            // One TUN queue per worker thread; the threads open theirs as they start, which `start` waits for so
            // that every queue's fd is made close-on-exec (below).
            use_multi_queue: true,
            // The device owns this end from now on (boringtun wraps it in a UnixStream).
            uapi_fd: theirs.into_raw_fd(),
            ..DeviceConfig::default()
        };
        let handle = std::thread::spawn(move || DeviceHandle::new(&name, config))
            .join()
            .map_err(|_| DeviceError::Create {
                interface: interface.to_owned(),
                reason: "boringtun panicked while creating the device".into(),
            })?
            .map_err(|error| {
                let reason = error.to_string();
                let denied = reason.contains("Operation not permitted")
                    || reason.contains("Permission denied")
                    || reason.contains("No such file or directory");
                if denied {
                    DeviceError::NotPermitted {
                        interface: interface.to_owned(),
                        reason,
                    }
                } else {
                    DeviceError::Create {
                        interface: interface.to_owned(),
                        reason,
                    }
                }
            })?;
        // Worker threads open their TUN queues as they start: wait for all of them (a second at most) before
        // marking every fd close-on-exec.
        let deadline = std::time::Instant::now() + Duration::from_secs(1);
        while tun_queues() < threads.max(1) && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        close_on_exec_all();
        ours.set_read_timeout(Some(Duration::from_secs(10)))
            .map_err(|e| create(e.to_string()))?;
        std::fs::create_dir_all(SOCKET_DIR).map_err(|e| create(format!("{SOCKET_DIR}: {e}")))?;
        let _ = std::fs::remove_file(&socket);
        let listener = UnixListener::bind(&socket)
            .map_err(|e| create(format!("{}: {e}", socket.display())))?;
        // Only root reads the device's state (as for wireguard-go's and the kernel's).
        std::fs::set_permissions(&socket, std::os::unix::fs::PermissionsExt::from_mode(0o600))
            .map_err(|e| create(format!("{}: {e}", socket.display())))?;
        let uapi = Arc::new(Mutex::new(Some(BufReader::new(ours))));
        let stop = Arc::new(AtomicBool::new(false));
        {
            let (uapi, stop) = (uapi.clone(), stop.clone());
            std::thread::spawn(move || serve_socket(listener, uapi, stop));
        }
        Ok(Device {
            interface: interface.to_owned(),
            socket,
            uapi,
            stop,
            _handle: handle,
        })
    }

    /// The interface's name.
    pub fn interface(&self) -> &str {
        &self.interface
    }

    fn uapi(&self, request: &str) -> Result<String, DeviceError> {
        exchange_on(&self.uapi, request).map_err(|e| DeviceError::Uapi {
            interface: self.interface.clone(),
            socket: self.socket.clone(),
            reason: e.to_string(),
        })
    }

    /// The device's key, port and peers (`get=1`).
    ///
    /// # Errors
    /// [`DeviceError::Uapi`] or [`DeviceError::Refused`].
    pub fn get(&self) -> Result<LiveDevice, DeviceError> {
        let answer = self.uapi("get=1\n\n")?;
        parse_get(&answer).map_err(|source| DeviceError::Refused {
            interface: self.interface.clone(),
            source,
        })
    }

    /// Sends one whole `set=1` request (as [`super::peers`] writes them).
    ///
    /// # Errors
    /// [`DeviceError::Uapi`] or [`DeviceError::Refused`].
    pub fn set(&self, request: &str) -> Result<(), DeviceError> {
        let answer = self.uapi(request)?;
        parse_set(&answer).map_err(|source| DeviceError::Refused {
            interface: self.interface.clone(),
            source,
        })
    }

    /// `ip link set <interface> up` and `ip address add` each address.
    ///
    /// # Errors
    /// [`DeviceError::Ip`].
    pub fn up(&self, addresses: &[IpNet]) -> Result<(), DeviceError> {
        for address in addresses {
            ip(&[
                "address",
                "add",
                &address.to_string(),
                "dev",
                &self.interface,
            ])?;
        }
        // 1420, as wg-quick and wireguard-go: 1500 minus the WireGuard, UDP and IPv6 headers, so that tunnel packets
        // are not fragmented (UDP load balancers often drop fragments).
        ip(&["link", "set", "dev", &self.interface, "mtu", "1420", "up"])
    }

    /// `ip route replace <net> dev <interface>` for each network (idempotent: the gateway's route of its pool).
    ///
    /// # Errors
    /// [`DeviceError::Ip`].
    pub fn route(&self, networks: &[IpNet]) -> Result<(), DeviceError> {
        self.routes("replace", networks)
    }

    /// `ip route add <net> dev <interface>` for each network: fails, rather than take it over, when a route for
    /// one of them exists already (another VPN, a LAN), as wg-quick does.
    ///
    /// # Errors
    /// [`DeviceError::Ip`], e.g. "File exists".
    pub fn route_new(&self, networks: &[IpNet]) -> Result<(), DeviceError> {
        self.routes("add", networks)
    }

    fn routes(&self, verb: &str, networks: &[IpNet]) -> Result<(), DeviceError> {
        for network in networks {
            let family = if network.addr().is_ipv4() { "-4" } else { "-6" };
            ip(&[
                family,
                "route",
                verb,
                &network.to_string(),
                "dev",
                &self.interface,
            ])?;
        }
        Ok(())
    }
}

/// A Linux interface name: 1 to 15 bytes, none of `/`, `%`, `:` or white space (the kernel's `dev_valid_name`).
fn check_name(name: &str) -> Result<(), &'static str> {
    if name.is_empty() || name.len() > 15 {
        return Err("an interface name has 1 to 15 characters");
    }
    let bad = |c: char| c == '/' || c == '%' || c == ':' || c.is_whitespace() || c.is_control();
    if name == "." || name == ".." || name.chars().any(bad) {
        return Err("an interface name cannot contain `/`, `%`, `:` or white space");
    }
    Ok(())
}

/// How many TUN queues this process holds open.
fn tun_queues() -> usize {
    std::fs::read_dir("/proc/self/fd").map_or(0, |entries| {
        entries
            .flatten()
            .filter(|e| {
                std::fs::read_link(e.path())
                    .is_ok_and(|target| target.as_os_str() == "/dev/net/tun")
            })
            .count()
    })
}

/// Marks every open file descriptor close-on-exec. boringtun opens `/dev/net/tun` (and its epoll and timer fds)
/// without `O_CLOEXEC`, so every process started afterwards (`ip`, `nft`, `resolvectl`) would hold a queue of the
/// TUN device: the kernel then hands packets to a queue nobody reads, and flows stall while it lives.
fn close_on_exec_all() {
    let Ok(entries) = std::fs::read_dir("/proc/self/fd") else {
        return;
    };
    for entry in entries.flatten() {
        let Some(fd) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<i32>().ok())
        else {
            continue;
        };
        if fd <= 2 {
            continue;
        }
        #[allow(unsafe_code)]
        // SAFETY: fcntl(2) with F_GETFD/F_SETFD only reads and sets the descriptor's flags; on a descriptor that
        // closed meanwhile (the read_dir's own) it fails with EBADF, which is ignored.
        unsafe {
            let flags = libc::fcntl(fd, libc::F_GETFD);
            if flags >= 0 {
                libc::fcntl(fd, libc::F_SETFD, flags | libc::FD_CLOEXEC);
            }
        }
    }
}

/// Runs iproute2's `ip` with `args`.
fn ip(args: &[&str]) -> Result<(), DeviceError> {
    let fail = |reason: String| DeviceError::Ip {
        args: args.join(" "),
        reason,
    };
    let output = Command::new("ip")
        .args(args)
        .output()
        .map_err(|e| fail(format!("cannot run `ip` (is iproute2 installed?): {e}")))?;
    if output.status.success() {
        Ok(())
    } else {
        Err(fail(
            String::from_utf8_lossy(&output.stderr).trim().to_owned(),
        ))
    }
}
