//! The SSH session gateway against real parts: a kube-apiserver, `tollgate apply` of a repository with an
//! environment, the gateway running as its own ServiceAccount with the RBAC of `deploy/session-gateway.yaml` and
//! the Roles the controller compiles, and the stock OpenSSH client with keys made by ssh-keygen, trusting the
//! `known_hosts` line published in the repository. The first test has no kubelet, so a session pod never becomes
//! ready: it checks the pod the gateway creates against the template, that the person is told why within
//! `readyTimeout` and the pod is gone, every refusal, and the reaper. The second runs sessions on a real node.

mod common;
mod harness;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{assert_success, stdout};
use harness::sessions::{World, apply, json, session_pods, stderr, wait_until};
use harness::{ControlPlane, Options};
use serde_json::Value;

#[tokio::test(flavor = "multi_thread")]
async fn ssh_logins_are_decided_by_the_authorizer_and_every_session_pod_is_removed() {
    let plane = ControlPlane::start(Options {
        controller_manager: false,
        audit_log: false,
    });
    let mut world = World::start(&plane, "8s", "20s").await;
    // Copies, so that the gateway can be restarted (`world` borrowed mutably) between uses.
    let ssh = &world.ssh.clone();
    let keys = world.keys.clone();
    let key = |name: &str| {
        keys.iter()
            .find(|(n, _)| *n == name)
            .expect("a key")
            .1
            .clone()
    };
    let log = world.log.clone();
    let read_log = || std::fs::read_to_string(&log).unwrap_or_default();
    let work = world.work.path().to_path_buf();

    // `tollgate status` shows the host key people check against: the fingerprint ssh-keygen gives for it.
    let host_key = world.work.path().join("host_key");
    let listed = Command::new("ssh-keygen")
        .arg("-l")
        .arg("-f")
        .arg(&host_key)
        .output()
        .expect("ssh-keygen");
    let fingerprint = stdout(&listed)
        .split_whitespace()
        .nth(1)
        .expect("a fingerprint")
        .to_owned();
    let status = plane.tollgate(
        &plane.kubeconfig,
        &["status", "--namespace", "tollgate-system"],
    );
    let shown = stdout(&status);
    assert!(
        shown.contains("Session gateway: 0 live session(s)")
            && shown.contains(&format!("host key {fingerprint}"))
            && shown.contains(&format!("known_hosts: [127.0.0.1]:{}", ssh.port)),
        "{shown}\n{}",
        stderr(&status)
    );

    // The gateway's token creates its own Secret and status ConfigMap (done above) and nothing else: RBAC cannot
    // say so for `create`, the admission policy of deploy/session-gateway.yaml does.
    let token_secret = work.join("token-secret.yaml");
    std::fs::write(
        &token_secret,
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: tollgate-session-gateway\n  namespace: tollgate-system\n  \
         annotations:\n    kubernetes.io/service-account.name: tollgate\ntype: kubernetes.io/service-account-token\n",
    )
    .expect("the Secret written");
    for planted in [
        &[
            "create",
            "configmap",
            "tollgate-peers",
            "-n",
            "tollgate-clients",
        ][..],
        &[
            "create",
            "secret",
            "generic",
            "tollgate-git",
            "-n",
            "tollgate-system",
        ][..],
        // Its own Secret's name, as a ServiceAccount token Secret (the token controller would fill it with the
        // token of the ServiceAccount it names).
        &["create", "-f", token_secret.to_str().expect("utf-8")][..],
    ] {
        let output = plane.kubectl_as(&world.kubeconfig, planted);
        assert!(
            !output.status.success() && stderr(&output).contains("tollgate-session-gateway-scope"),
            "{planted:?}: {}",
            stderr(&output)
        );
    }

    // Refused before any pod exists: an unknown key, someone else's login name, a disabled user.
    for (who, login) in [
        ("mallory", "mallory+toolbox"),
        ("alice", "bob+toolbox"),
        ("carol", "carol+toolbox"),
    ] {
        let output = ssh.run(&key(who), login, &["id"]);
        assert_eq!(
            output.status.code(),
            Some(255),
            "{who} as {login}: {}",
            stderr(&output)
        );
        assert!(
            stderr(&output).contains("Permission denied"),
            "{}",
            stderr(&output)
        );
    }
    // Authenticated but not granted (bob), or granted with an expired grant (dave): told why, exit 1.
    for (who, login) in [
        ("bob", "bob+toolbox"),
        ("dave", "dave+toolbox"),
        ("alice", "alice+nowhere"),
    ] {
        let output = ssh.run(&key(who), login, &["id"]);
        assert_eq!(output.status.code(), Some(1), "{who}: {}", stderr(&output));
        assert!(
            stderr(&output).contains("tollgate: refused:"),
            "{}",
            stderr(&output)
        );
    }
    assert!(stderr(&ssh.run(&key("bob"), "bob+toolbox", &["id"])).contains("no grant allows it"));
    assert!(
        stderr(&ssh.run(&key("alice"), "alice+nowhere", &["id"]))
            .contains("no environment nowhere")
    );
    // A login name is anyone's to choose: quoted in a refusal and in the audit line, it is cut to 64 characters.
    let long = format!("alice+{}", "q".repeat(200));
    let refused = ssh.run(&key("alice"), &long, &["id"]);
    assert!(
        stderr(&refused).contains(&format!("no environment {}...", "q".repeat(64))),
        "{}",
        stderr(&refused)
    );
    assert!(
        !read_log().contains(&"q".repeat(65)),
        "a login name in the log uncut"
    );
    assert!(
        session_pods(&plane).is_empty(),
        "no pod for a refused login"
    );

    // alice may: the pod is made from the template, she is told what it waits for, and with no kubelet it is never
    // ready: within readyTimeout she hears why, exit 1, and the pod is gone. No suffix: her only environment.
    let template = json(
        &plane,
        &[
            "get",
            "podtemplate",
            "-n",
            "sessions-toolbox",
            "tollgate-session-toolbox",
        ],
    );
    let login = {
        let key = key("alice");
        let ssh = ssh.clone();
        std::thread::spawn(move || (Instant::now(), ssh.run(&key, "alice", &["id", "-u"])))
    };
    let mut seen = None;
    wait_until("alice's session pod", Duration::from_secs(10), || {
        seen = session_pods(&plane).into_iter().next();
        seen.is_some()
    });
    let pod = seen.expect("a pod");
    let name = pod["metadata"]["name"].as_str().expect("a name").to_owned();
    assert!(name.starts_with("alice--toolbox-"), "{name}");
    let labels = &pod["metadata"]["labels"];
    assert_eq!(labels["tollgate.dev/session-user"], "alice");
    assert_eq!(labels["tollgate.dev/environment"], "toolbox");
    assert_eq!(
        pod["metadata"]["annotations"]["tollgate.dev/source-address"],
        "127.0.0.1"
    );
    let spec = &pod["spec"];
    let wanted = &template["template"]["spec"];
    for field in [
        "serviceAccountName",
        "automountServiceAccountToken",
        "activeDeadlineSeconds",
        "restartPolicy",
        "dnsPolicy",
    ] {
        assert_eq!(spec[field], wanted[field], "pod spec field {field}");
    }
    for field in [
        "image",
        "imagePullPolicy",
        "command",
        "securityContext",
        "stdin",
        "tty",
    ] {
        assert_eq!(
            spec["containers"][0][field], wanted["containers"][0][field],
            "container field {field}"
        );
    }
    assert_eq!(spec["activeDeadlineSeconds"], 7200);
    assert_eq!(spec["serviceAccountName"], "session");
    assert_eq!(spec["automountServiceAccountToken"], false);
    assert_eq!(spec["containers"][0]["imagePullPolicy"], "Never");
    let (started, output) = login.join().expect("the login thread");
    let waited = started.elapsed();
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let said = stderr(&output);
    assert!(
        said.contains(&format!("tollgate: starting {name}")),
        "{said}"
    );
    assert!(
        said.contains("not ready within the environment's readyTimeout (8s)"),
        "{said}"
    );
    assert!(waited < Duration::from_secs(8 + 20 + 5), "{waited:?}");
    wait_until("alice's pod removed", Duration::from_secs(25), || {
        session_pods(&plane).is_empty()
    });

    // A person who leaves while the pod starts: the pod goes at once, not at the end of readyTimeout (8 s).
    let mut leaving = ssh
        .command(&key("alice"), "alice+toolbox", &[], &["id"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("ssh starts");
    wait_until("the leaving login's pod", Duration::from_secs(10), || {
        !session_pods(&plane).is_empty()
    });
    let _ = leaving.kill();
    let _ = leaving.wait();
    let left = Instant::now();
    wait_until(
        "the pod of a login that left",
        Duration::from_secs(10),
        || session_pods(&plane).is_empty(),
    );
    assert!(
        left.elapsed() < Duration::from_secs(5),
        "{:?}",
        left.elapsed()
    );
    wait_until(
        "the audit of the login that left",
        Duration::from_secs(5),
        || read_log().contains("the person left before the session pod was ready"),
    );

    // Port forwarding is refused (the environment does not allow it): ssh -L's channel is refused.
    let forward = ssh.run_with(
        &key("alice"),
        "alice+toolbox",
        &["-o", "ExitOnForwardFailure=yes", "-W", "10.0.0.1:443"],
        &[],
    );
    assert_ne!(forward.status.code(), Some(0), "{}", stderr(&forward));
    wait_until(
        "the forward refusal in the audit log",
        Duration::from_secs(5),
        || read_log().contains("the environment does not allow port forwarding"),
    );

    // A namespace whose Pod Security the environment's pod does not meet: the API server refuses the pod, and the
    // person reads the admission's words at once.
    assert_success(&plane.kubectl(&[
        "label",
        "namespace",
        "sessions-forwarding",
        "pod-security.kubernetes.io/enforce=restricted",
    ]));
    let refused = ssh.run(&key("bob"), "bob+forwarding", &["id"]);
    assert_eq!(refused.status.code(), Some(1), "{}", stderr(&refused));
    let said = stderr(&refused);
    assert!(
        said.contains("the cluster refused the session pod") && said.contains("restricted"),
        "{said}"
    );
    assert_success(&plane.kubectl(&[
        "label",
        "namespace",
        "sessions-forwarding",
        "pod-security.kubernetes.io/enforce-",
    ]));
    assert!(
        json(&plane, &["get", "pods", "-n", "sessions-forwarding"])["items"]
            .as_array()
            .is_some_and(Vec::is_empty)
    );

    // A pod no live session holds (the gateway crashed) is removed by the reaper within its period.
    let orphan = serde_json::json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "alice--toolbox-orphan01", "namespace": "sessions-toolbox",
                     "labels": {"tollgate.dev/session": "orphan01", "tollgate.dev/session-user": "alice",
                                "tollgate.dev/environment": "toolbox"}},
        "spec": {"containers": [{"name": "session", "image": "localhost/busybox:test"}],
                 "automountServiceAccountToken": false, "serviceAccountName": "session"}
    });
    let orphan_file = work.join("orphan.json");
    std::fs::write(&orphan_file, orphan.to_string()).expect("orphan written");
    assert_success(&plane.kubectl(&["create", "-f", orphan_file.to_str().expect("utf-8")]));
    wait_until(
        "the reaper removes the orphan",
        Duration::from_secs(15),
        || session_pods(&plane).is_empty(),
    );

    // The audit trail: one JSON line per login, refusal and logout, never a key; Events in the namespace.
    let audit = read_log();
    for wanted in [
        "\"action\":\"Login\"",
        "\"action\":\"Failed\"",
        "\"action\":\"Logout\"",
        "\"action\":\"Reaped\"",
        "no user of the repository has this key",
        "user carol is disabled",
        "this key is alice's, not bob's",
    ] {
        assert!(
            audit.contains(wanted),
            "the audit log lacks {wanted}:\n{audit}"
        );
    }
    for (_, path) in &world.keys {
        let private = std::fs::read_to_string(path).expect("a private key");
        let body: String = private.lines().nth(1).unwrap_or_default().to_owned();
        assert!(!audit.contains(&body), "a private key in the log");
    }
    let events = json(&plane, &["get", "events", "-n", "sessions-toolbox"]);
    let reasons: Vec<&str> = events["items"]
        .as_array()
        .expect("events")
        .iter()
        .filter_map(|e| e["reason"].as_str())
        .collect();
    for wanted in [
        "SessionLogin",
        "SessionFailed",
        "SessionLogout",
        "SessionRefused",
        "SessionReaped",
    ] {
        assert!(reasons.contains(&wanted), "no {wanted} event: {reasons:?}");
    }

    // `tollgate sessions` reads the pods: none now.
    let sessions = plane.tollgate(&plane.kubeconfig, &["sessions", "--json"]);
    assert_success(&sessions);
    assert_eq!(
        serde_json::from_str::<Value>(&stdout(&sessions)).expect("JSON"),
        serde_json::json!([])
    );

    // Keys follow the repository: alice's User now lists mallory's key. After the apply, within a refresh (1 s),
    // her old key is refused and the new one logs in as her (refused later for want of a kubelet, not of a key).
    let public = |name: &str| {
        let text = std::fs::read_to_string(key(name).with_extension("pub")).expect("a public key");
        text.split_whitespace()
            .take(2)
            .collect::<Vec<_>>()
            .join(" ")
    };
    let repo = work.join("repo");
    let access = std::fs::read_to_string(repo.join("access.yaml")).expect("the repository");
    std::fs::write(
        repo.join("access.yaml"),
        access.replace(&public("alice"), &public("mallory")),
    )
    .expect("the repository written");
    assert_success(&apply(&plane, &repo));
    wait_until("alice's old key refused", Duration::from_secs(10), || {
        ssh.run(&key("alice"), "alice+nowhere", &["id"])
            .status
            .code()
            == Some(255)
    });
    let moved = ssh.run(&key("mallory"), "alice+toolbox", &["id"]);
    assert!(
        stderr(&moved).contains("tollgate: starting alice--toolbox-"),
        "{}",
        stderr(&moved)
    );
    // ...and a connection opened with the old key before the change gets no new session: every session asks again.
    let control = work.join("control");
    let mut master = ssh.master(&key("mallory"), "alice+toolbox", &control);
    std::fs::write(repo.join("access.yaml"), &access).expect("the repository written back");
    assert_success(&apply(&plane, &repo));
    wait_until(
        "the old connection refused",
        Duration::from_secs(30),
        || {
            stderr(&ssh.through(&key("mallory"), "alice+toolbox", &control, &["id"]))
                .contains("refused: no user of the repository has this key")
        },
    );
    let _ = master.kill();
    let _ = master.wait();

    // Refusals after authentication are Events in the environment's namespace (bob's); refusals before it are
    // log lines only (mallory's name and key appear in no Event).
    let events = json(&plane, &["get", "events", "-n", "sessions-toolbox"]);
    let messages: Vec<&str> = events["items"]
        .as_array()
        .expect("events")
        .iter()
        .filter_map(|e| e["message"].as_str())
        .collect();
    assert!(
        messages
            .iter()
            .any(|m| m.starts_with("Refused: user bob environment toolbox")),
        "{messages:?}"
    );
    assert!(
        !messages
            .iter()
            .any(|m| m.contains("mallory") || m.contains("this key is")),
        "{messages:?}"
    );
    // `ssh -N` opens no session; its login is audited all the same, a refused one with the reason.
    let refused_dave = || {
        read_log()
            .lines()
            .filter(|l| l.contains("\"user\":\"dave\"") && l.contains("\"action\":\"Refused\""))
            .count()
    };
    let before = refused_dave();
    let mut quiet = ssh
        .command(&key("dave"), "dave+toolbox", &["-N"], &[])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("ssh starts");
    wait_until("dave's ssh -N audited", Duration::from_secs(10), || {
        refused_dave() > before
    });
    let _ = quiet.kill();
    let _ = quiet.wait();

    // An authenticated person asking again and again for what they may not have: a reason is one Event per
    // connection however often it repeats (the login's refusal and the sessions refused for the same reason), and
    // the connection is closed after 10 refusals.
    let bob_events = || {
        json(&plane, &["get", "events", "-n", "sessions-toolbox"])["items"]
            .as_array()
            .expect("events")
            .iter()
            .filter(|e| {
                e["message"]
                    .as_str()
                    .is_some_and(|m| m.starts_with("Refused: user bob "))
            })
            .count()
    };
    let before = bob_events();
    let control = work.join("control-bob");
    let mut master = ssh.master(&key("bob"), "bob+toolbox", &control);
    let control_text = control.to_str().expect("utf-8");
    let mut forwards = 0;
    for round in 0..9 {
        // Sessions and forwards in turn: two reasons, each said once.
        if round % 2 == 0 {
            let asked = ssh.through(&key("bob"), "bob+toolbox", &control, &["id"]);
            assert_eq!(asked.status.code(), Some(1), "{}", stderr(&asked));
            assert!(
                stderr(&asked).contains("refused: bob may not log in to toolbox"),
                "{}",
                stderr(&asked)
            );
        } else {
            let forward = ssh.run_with(
                &key("bob"),
                "bob+toolbox",
                &[
                    "-o",
                    "ControlMaster=no",
                    "-S",
                    control_text,
                    "-W",
                    "10.0.0.1:80",
                ],
                &[],
            );
            assert_eq!(forward.status.code(), Some(255), "{}", stderr(&forward));
            forwards += 1;
        }
    }
    assert_eq!(forwards, 4);
    // The login's refusal, five sessions' and four forwards': two reasons, two Events.
    wait_until("bob's refusals recorded", Duration::from_secs(5), || {
        bob_events() >= before + 2
    });
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(bob_events(), before + 2, "one Event per reason");
    assert!(
        master.try_wait().is_ok_and(|s| s.is_none()),
        "the connection is still open after its 10th refusal"
    );
    // The next session asked for closes the connection (ssh then falls back to a connection of its own).
    let _ = ssh.through(&key("bob"), "bob+toolbox", &control, &["id"]);
    assert!(
        master.wait().is_ok_and(|s| !s.success()),
        "the connection is closed after 10 refusals"
    );
    assert!(read_log().contains("connection closed after 10 refusals"));
    // Reconnecting does not make more: at most 20 refusal Events per user a minute, every refusal a log line.
    let refused_lines = || {
        read_log()
            .lines()
            .filter(|l| l.contains("\"user\":\"bob\"") && l.contains("\"action\":\"Refused\""))
            .count()
    };
    let (events_before, lines_before) = (bob_events(), refused_lines());
    for _ in 0..25 {
        let asked = ssh.run(&key("bob"), "bob+toolbox", &["id"]);
        assert_eq!(asked.status.code(), Some(1), "{}", stderr(&asked));
    }
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(
        refused_lines(),
        lines_before + 25,
        "every refusal is a log line"
    );
    let made = bob_events() - events_before;
    assert!(made <= 20, "{made} refusal Events in a minute");

    // SIGTERM while a session's pod is still being removed (a finalizer holds it): a connection already open gets
    // no new session, and the gateway exits once the pod is gone.
    let control = work.join("control-stop");
    let mut master = ssh.master(&key("alice"), "alice+toolbox", &control);
    let first = {
        let key = key("alice");
        let ssh = ssh.clone();
        let control = control.clone();
        std::thread::spawn(move || ssh.through(&key, "alice+toolbox", &control, &["id"]))
    };
    let mut held = String::new();
    wait_until("the first session's pod", Duration::from_secs(10), || {
        held = session_pods(&plane)
            .first()
            .and_then(|p| p["metadata"]["name"].as_str())
            .unwrap_or_default()
            .to_owned();
        !held.is_empty()
    });
    let hold = |finalizers: &str| {
        assert_success(&plane.kubectl(&[
            "patch",
            "pod",
            &held,
            "-n",
            "sessions-toolbox",
            "--type",
            "merge",
            "-p",
            &format!(r#"{{"metadata":{{"finalizers":{finalizers}}}}}"#),
        ]));
    };
    hold(r#"["example.com/hold"]"#);
    world.gateway.as_ref().expect("a gateway").terminate();
    let ended = first.join().expect("the first session's thread");
    assert!(
        stderr(&ended).contains("the session gateway is shutting down"),
        "{}",
        stderr(&ended)
    );
    let late = ssh.through(&key("alice"), "alice+toolbox", &control, &["id"]);
    assert_eq!(late.status.code(), Some(1), "{}", stderr(&late));
    assert!(
        stderr(&late).contains("tollgate: refused: the session gateway is shutting down"),
        "{}",
        stderr(&late)
    );
    assert!(
        read_log()
            .lines()
            .any(|l| l.contains("\"action\":\"Refused\"")
                && l.contains("\"detail\":\"the session gateway is shutting down\"")),
        "the refusal is audited"
    );
    assert_eq!(session_pods(&plane).len(), 1, "no pod for the late session");
    hold("null");
    assert!(
        world
            .gateway
            .as_mut()
            .expect("a gateway")
            .exits_within(Duration::from_secs(15)),
        "the gateway exits once the pod is gone"
    );
    let _ = master.kill();
    let _ = master.wait();
    world.start_gateway();

    // A session directory that is gone refuses every login (it no longer says who may), and says why in the status.
    assert_success(&plane.kubectl(&[
        "delete",
        "configmap",
        "tollgate-sessions",
        "-n",
        "tollgate-clients",
    ]));
    wait_until(
        "logins refused without a directory",
        Duration::from_secs(10),
        || {
            ssh.run(&key("alice"), "alice+nowhere", &["id"])
                .status
                .code()
                == Some(255)
        },
    );
    wait_until("the status says why", Duration::from_secs(10), || {
        stdout(&plane.tollgate(
            &plane.kubeconfig,
            &["status", "--namespace", "tollgate-system"],
        ))
        .contains("error: no session directory")
    });

    // The login grace time and the most unauthenticated connections (here 3 s and 2): a third connection is closed
    // before the SSH banner, and the first two when their grace time is over: one that never sends its
    // identification, and one that sends it and then stalls in key exchange. Their slots are free again after.
    drop(world.gateway.take());
    world.start_gateway_with(&[
        "--login-grace-time",
        "3s",
        "--max-unauthenticated",
        "2",
        "--max-sessions-per-user",
        "1",
    ]);
    let banner = |stream: &mut std::net::TcpStream| {
        use std::io::Read as _;
        let mut buffer = [0_u8; 64];
        stream
            .set_read_timeout(Some(Duration::from_secs(6)))
            .expect("a timeout");
        let read = stream.read(&mut buffer).unwrap_or(0);
        String::from_utf8_lossy(&buffer[..read]).into_owned()
    };
    // Reads until the gateway closes the connection; fails on the read timeout.
    let closed = |stream: &mut std::net::TcpStream| {
        use std::io::Read as _;
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .expect("a timeout");
        let mut buffer = [0_u8; 4096];
        loop {
            match stream.read(&mut buffer) {
                Ok(0) => return true,
                Ok(_) => {}
                Err(e) => return e.kind() == std::io::ErrorKind::ConnectionReset,
            }
        }
    };
    let connected = Instant::now();
    let mut held: Vec<std::net::TcpStream> = (0..2)
        .map(|_| std::net::TcpStream::connect(("127.0.0.1", world.port)).expect("a connection"))
        .collect();
    for stream in &mut held {
        assert!(banner(stream).starts_with("SSH-2.0-"));
    }
    {
        use std::io::Write as _;
        held[1]
            .write_all(b"SSH-2.0-OpenSSH_9.2 stalled\r\n")
            .expect("the identification sent");
    }
    let mut third = std::net::TcpStream::connect(("127.0.0.1", world.port)).expect("a connection");
    assert_eq!(
        banner(&mut third),
        "",
        "a third unauthenticated connection is closed"
    );
    for stream in &mut held {
        assert!(closed(stream), "the connection is closed");
        // The grace time (3 s) and the wait for a polite disconnect (2 s), with room.
        assert!(
            connected.elapsed() < Duration::from_secs(9),
            "{:?}",
            connected.elapsed()
        );
    }
    let mut again = std::net::TcpStream::connect(("127.0.0.1", world.port)).expect("a connection");
    assert!(
        banner(&mut again).starts_with("SSH-2.0-"),
        "the closed connections' slots are free"
    );
    drop(again);

    // At most one session per user here (`--max-sessions-per-user 1`), over all their connections. The directory
    // deleted above is published again first.
    assert_success(&apply(&plane, &repo));
    wait_until(
        "the gateway reads the directory again",
        Duration::from_secs(10),
        || {
            stderr(&ssh.run(&key("alice"), "alice+nowhere", &["id"]))
                .contains("no environment nowhere")
        },
    );
    let first = {
        let key = key("alice");
        let ssh = ssh.clone();
        std::thread::spawn(move || ssh.run(&key, "alice+toolbox", &["id"]))
    };
    wait_until("alice's one session", Duration::from_secs(10), || {
        session_pods(&plane).len() == 1
    });
    let second = ssh.run(&key("alice"), "alice+toolbox", &["id"]);
    assert_eq!(second.status.code(), Some(1), "{}", stderr(&second));
    assert!(
        stderr(&second).contains("alice holds 1 session(s) already"),
        "{}",
        stderr(&second)
    );
    assert_eq!(session_pods(&plane).len(), 1);
    let _ = first.join();
}

/// `ssh alice+toolbox 'sleep 300'` with its standard error to `stderr`, returned once its pod runs.
fn running_session(
    world: &World,
    plane: &ControlPlane,
    key: &std::path::Path,
    stderr: Stdio,
) -> std::process::Child {
    let child = world
        .ssh
        .command(key, "alice+toolbox", &[], &["sleep 300"])
        .stdout(Stdio::null())
        .stderr(stderr)
        .spawn()
        .expect("ssh starts");
    wait_until("a running session pod", Duration::from_secs(60), || {
        session_pods(plane)
            .iter()
            .any(|p| p["status"]["phase"] == "Running")
    });
    child
}

/// Connects through a SOCKS5 proxy (RFC 1928, no authentication, CONNECT to an IPv4 address) and reads until the
/// peer closes: what `ssh -D` offers to a browser or `curl --socks5`.
fn socks5_read(proxy: u16, address: [u8; 4], port: u16) -> std::io::Result<String> {
    use std::io::{Read as _, Write as _};
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", proxy))?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    stream.write_all(&[5, 1, 0])?;
    let mut choice = [0_u8; 2];
    stream.read_exact(&mut choice)?;
    assert_eq!(choice, [5, 0], "the proxy takes no authentication");
    let mut request = vec![5, 1, 0, 1];
    request.extend(address);
    request.extend(port.to_be_bytes());
    stream.write_all(&request)?;
    let mut reply = [0_u8; 10];
    stream.read_exact(&mut reply)?;
    assert_eq!(reply[1], 0, "the proxy's reply: {reply:?}");
    let mut text = String::new();
    stream.read_to_string(&mut text)?;
    Ok(text)
}

/// Drives `ssh -tt` through a pseudo-terminal as a person would: waits for the pod, asks `stty size`, resizes the
/// terminal (TIOCSWINSZ and SIGWINCH, as a terminal emulator does), asks again, and exits with status 5. Prints the
/// transcript, then ssh's exit code on the last line.
const PTY_DRIVER: &str = r#"
import fcntl, os, pty, select, signal, struct, sys, termios, time
pid, fd = pty.fork()
if pid == 0:
    os.execvp(sys.argv[1], sys.argv[1:])
def size(rows, cols):
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
    os.kill(pid, signal.SIGWINCH)
size(24, 80)
seen = b""
def wait_for(token, timeout=90):
    global seen
    end = time.time() + timeout
    while token not in seen:
        ready, _, _ = select.select([fd], [], [], max(0.0, end - time.time()))
        if not ready:
            sys.stdout.write(seen.decode(errors="replace"))
            sys.exit("no %r in time" % token)
        try:
            data = os.read(fd, 4096)
        except OSError:
            data = b""
        if not data:
            sys.stdout.write(seen.decode(errors="replace"))
            sys.exit("ssh ended before %r" % token)
        seen += data
wait_for(b"tollgate: ready")
time.sleep(1)
os.write(fd, b"stty size\n")
wait_for(b"24 80")
size(40, 100)
time.sleep(1)
os.write(fd, b"stty size\n")
wait_for(b"40 100")
os.write(fd, b"exit 5\n")
while True:
    try:
        data = os.read(fd, 4096)
    except OSError:
        break
    if not data:
        break
    seen += data
_, status = os.waitpid(pid, 0)
sys.stdout.write(seen.decode(errors="replace"))
print()
print(os.waitstatus_to_exitcode(status))
"#;

/// With a real node (containerd and a kubelet, placed by kube-scheduler): a login runs in a pod of its own, with
/// the command's output and exit status; an interactive login's terminal follows resizes; the pod is gone within
/// removeTimeout after logout; sftp and scp carry files; `ssh -L` and `ssh -D` reach a listener in the pod;
/// `tollgate sessions` shows idle time; and a pod left by a gateway killed with SIGKILL is removed by the next
/// gateway's reaper.
#[tokio::test(flavor = "multi_thread")]
async fn a_login_runs_in_its_own_pod_on_a_real_node() {
    let mut plane = ControlPlane::start(Options {
        controller_manager: false,
        audit_log: false,
    });
    plane.start_scheduler();
    let _node = harness::node::Node::start(&plane);
    let mut world = World::start(&plane, "90s", "10s").await;
    let alice = world.key("alice");

    // A command: `execCommand` (`/bin/sh -c`) with it, inside the pod, as the environment's user; its status back.
    let output = world
        .ssh
        .run(&alice, "alice+toolbox", &["id -u; hostname; exit 3"]);
    let logout = Instant::now();
    assert_eq!(output.status.code(), Some(3), "{}", stderr(&output));
    let printed = stdout(&output);
    let lines: Vec<&str> = printed.lines().collect();
    assert_eq!(lines.len(), 2, "{printed}");
    assert_eq!(lines[0], "1000", "runAsUser");
    assert!(
        lines[1].starts_with("alice--toolbox-"),
        "the pod's hostname: {printed}"
    );
    let said = stderr(&output);
    assert!(
        said.contains("tollgate: ready") && said.contains("hello alice"),
        "{said}"
    );
    // The pod is gone within removeTimeout (10 s) of the logout.
    wait_until(
        "the pod removed after logout",
        Duration::from_secs(10),
        || session_pods(&plane).is_empty(),
    );
    let removed_in = logout.elapsed();

    // An interactive login: a PTY running the shell, window resizes forwarded, the shell's exit status back.
    let mut ssh = vec!["ssh".to_owned(), "-tt".to_owned()];
    ssh.extend(world.ssh.options(&alice));
    ssh.extend([
        "-p".to_owned(),
        world.port.to_string(),
        "alice+toolbox@127.0.0.1".to_owned(),
    ]);
    let driven = Command::new("python3")
        .args(["-c", PTY_DRIVER])
        .args(&ssh)
        .stdin(Stdio::null())
        .output()
        .expect("python3 runs");
    let transcript = stdout(&driven);
    assert!(driven.status.success(), "{transcript}\n{}", stderr(&driven));
    assert_eq!(transcript.lines().last(), Some("5"), "{transcript}");
    assert!(
        transcript.contains("24 80") && transcript.contains("40 100"),
        "{transcript}"
    );
    wait_until(
        "the interactive pod removed",
        Duration::from_secs(10),
        || session_pods(&plane).is_empty(),
    );

    // An image the node does not have (and may not pull): said in the session, long before readyTimeout (90 s),
    // and the pod is gone.
    let started = Instant::now();
    let missing = world.ssh.run(&world.key("bob"), "bob+missing", &["id"]);
    assert_eq!(missing.status.code(), Some(1), "{}", stderr(&missing));
    assert!(
        stderr(&missing).contains("the session pod cannot start: ErrImageNeverPull"),
        "{}",
        stderr(&missing)
    );
    assert!(
        started.elapsed() < Duration::from_secs(60),
        "{:?}",
        started.elapsed()
    );
    wait_until(
        "the missing image's pod removed",
        Duration::from_secs(15),
        || {
            json(&plane, &["get", "pods", "-n", "sessions-missing"])["items"]
                .as_array()
                .is_some_and(Vec::is_empty)
        },
    );

    // sftp and scp (OpenSSH's, which speaks SFTP) reach the pod through `sftpCommand`: a file goes up and comes
    // back, and the image's own file comes down.
    let transfer = world.work.path().join("transfer");
    std::fs::create_dir(&transfer).expect("transfer dir");
    std::fs::write(transfer.join("up.txt"), "carried by sftp\n").expect("file written");
    std::fs::write(
        transfer.join("batch"),
        "put up.txt /tmp/up.txt\nget /tmp/up.txt down.txt\nls /etc/passwd\n",
    )
    .expect("batch written");
    let transport = |program: &str| {
        let mut command = Command::new(program);
        command
            .current_dir(&transfer)
            .args(world.ssh.options(&alice))
            .args(["-P", &world.port.to_string()])
            .stdin(Stdio::null());
        command
    };
    let sftp = transport("sftp")
        .args(["-b", "batch", "alice+toolbox@127.0.0.1"])
        .output()
        .expect("sftp runs");
    assert!(sftp.status.success(), "{}{}", stdout(&sftp), stderr(&sftp));
    assert_eq!(
        std::fs::read_to_string(transfer.join("down.txt")).expect("the file came back"),
        "carried by sftp\n"
    );
    assert!(stdout(&sftp).contains("/etc/passwd"), "{}", stdout(&sftp));
    let scp = transport("scp")
        .args(["alice+toolbox@127.0.0.1:/etc/passwd", "passwd"])
        .output()
        .expect("scp runs");
    assert!(scp.status.success(), "{}", stderr(&scp));
    assert!(
        std::fs::read_to_string(transfer.join("passwd"))
            .expect("scp's copy")
            .starts_with("root:x:0:0:"),
        "the image's /etc/passwd"
    );
    assert!(world.read_log().contains("\"detail\":\"sftp\""));
    wait_until("the sftp pods removed", Duration::from_secs(20), || {
        session_pods(&plane).is_empty()
    });

    // `ssh -L` and `ssh -D` (SOCKS5) in an environment that allows forwarding: the connection leaves from the
    // session's pod (`nc` runs there), so a listener in that pod on 127.0.0.1 is reached from the laptop.
    let local = harness::free_port();
    let socks = harness::free_port();
    let mut forwarding = world
        .ssh
        .command(
            &world.key("bob"),
            "bob+forwarding",
            &[
                "-L",
                &format!("127.0.0.1:{local}:127.0.0.1:7000"),
                "-D",
                &format!("127.0.0.1:{socks}"),
            ],
            &["nc -ll -p 7000 -e echo hello-from-the-pod"],
        )
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("ssh starts");
    let mut answer = String::new();
    wait_until(
        "an answer through the forward",
        Duration::from_secs(60),
        || {
            use std::io::Read as _;
            answer.clear();
            std::net::TcpStream::connect(("127.0.0.1", local))
                .and_then(|mut stream| {
                    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
                    stream.read_to_string(&mut answer)
                })
                .is_ok()
                && answer.contains("hello-from-the-pod")
        },
    );
    let through_socks = socks5_read(socks, [127, 0, 0, 1], 7000).expect("a SOCKS5 connection");
    assert!(
        through_socks.contains("hello-from-the-pod"),
        "{through_socks}"
    );
    // Idle time: the gateway reports when each session last had input; `tollgate sessions` shows it.
    wait_until(
        "the forwarding session's idle time",
        Duration::from_secs(10),
        || {
            let listed = plane.tollgate(
                &plane.kubeconfig,
                &[
                    "sessions",
                    "--json",
                    "--clients-namespace",
                    "tollgate-clients",
                ],
            );
            serde_json::from_str::<Value>(&stdout(&listed))
                .ok()
                .and_then(|v| v.as_array().cloned())
                .is_some_and(|sessions| {
                    sessions
                        .iter()
                        .any(|s| s["user"] == "bob" && s["lastInput"].is_string())
                })
        },
    );
    let table = stdout(&plane.tollgate(&plane.kubeconfig, &["sessions"]));
    assert!(
        table.lines().next().is_some_and(|h| h.contains("IDLE")) && table.contains("bob"),
        "{table}"
    );
    let _ = forwarding.kill();
    let _ = forwarding.wait();
    assert!(world.read_log().contains("\"action\":\"Forward\""));
    wait_until(
        "the forwarding pod removed",
        Duration::from_secs(30),
        || {
            json(
                &plane,
                &[
                    "get",
                    "pods",
                    "-n",
                    "sessions-forwarding",
                    "-l",
                    "tollgate.dev/session",
                ],
            )["items"]
                .as_array()
                .is_some_and(Vec::is_empty)
        },
    );

    // SIGTERM (a rollout): a running session is told why it ends, its pod is removed, and the gateway exits.
    let ending = running_session(&world, &plane, &alice, Stdio::piped());
    world.gateway.as_ref().expect("a gateway").terminate();
    let ended = ending.wait_with_output().expect("ssh ends");
    assert!(
        stderr(&ended).contains("the session gateway is shutting down"),
        "{}",
        stderr(&ended)
    );
    assert!(
        world
            .gateway
            .as_mut()
            .expect("a gateway")
            .exits_within(Duration::from_secs(20)),
        "the gateway exits after SIGTERM"
    );
    // It let go only after the removal of its session's pod.
    assert!(
        session_pods(&plane).is_empty(),
        "a pod outlived the gateway"
    );
    world.start_gateway();

    // The gateway killed with SIGKILL in mid-session: its pod stays, and the next gateway's reaper removes it.
    let mut long = running_session(&world, &plane, &alice, Stdio::null());
    drop(world.gateway.take());
    let _ = long.kill();
    let _ = long.wait();
    std::thread::sleep(Duration::from_secs(1));
    let left = session_pods(&plane);
    assert_eq!(left.len(), 1, "the killed gateway's pod is still there");
    world.start_gateway();
    wait_until(
        "the reaper removes the pod",
        Duration::from_secs(15),
        || session_pods(&plane).is_empty(),
    );
    assert!(world.read_log().contains("\"action\":\"Reaped\""));
    println!("session pod removed {removed_in:?} after logout");
}
