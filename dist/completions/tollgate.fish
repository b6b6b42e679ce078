# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_tollgate_global_optspecs
    string join \n h/help V/version
end

function __fish_tollgate_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_tollgate_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_tollgate_using_subcommand
    set -l cmd (__fish_tollgate_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c tollgate -n "__fish_tollgate_needs_command" -s h -l help -d 'Print help'
complete -c tollgate -n "__fish_tollgate_needs_command" -s V -l version -d 'Print version'
complete -c tollgate -n "__fish_tollgate_needs_command" -f -a "validate" -d 'Check the repository and print every problem with its file, line and field'
complete -c tollgate -n "__fish_tollgate_needs_command" -f -a "render" -d 'Print the objects one cluster should hold, as YAML that `kubectl apply -f -` accepts'
complete -c tollgate -n "__fish_tollgate_needs_command" -f -a "plan" -d 'Show what would change in one cluster, per object and per person'
complete -c tollgate -n "__fish_tollgate_needs_command" -f -a "apply" -d 'Plan against the live cluster and apply the plan: server-side apply, then prune'
complete -c tollgate -n "__fish_tollgate_needs_command" -f -a "controller" -d 'Run in the cluster: poll the Git branch, reconcile access when the configuration changes (and on a resync schedule), publish client files; one replica at a time, elected with a Lease'
complete -c tollgate -n "__fish_tollgate_needs_command" -f -a "gateway" -d 'Run the cluster\'s WireGuard gateway: serve the peers the controller publishes, changing only what changed'
complete -c tollgate -n "__fish_tollgate_needs_command" -f -a "session-gateway" -d 'Run the SSH session gateway: each login (`ssh USER+ENVIRONMENT@gateway`) in a pod of its own, removed when the session ends'
complete -c tollgate -n "__fish_tollgate_needs_command" -f -a "sessions" -d 'List the live SSH sessions: user, environment, pod, age, phase and source address'
complete -c tollgate -n "__fish_tollgate_needs_command" -f -a "connect" -d 'Bring up a WireGuard tunnel to the cluster from a client file, and a kubeconfig; down on Ctrl-C'
complete -c tollgate -n "__fish_tollgate_needs_command" -f -a "status" -d 'Print what the controller reports: the applied revision, when, the last plan and the last error'
complete -c tollgate -n "__fish_tollgate_needs_command" -f -a "clients" -d 'List every client with its owners, recipients, clusters and the state of its credentials'
complete -c tollgate -n "__fish_tollgate_needs_command" -f -a "client" -d 'Scaffold and inspect clients; turn a client file into a kubeconfig (entry) or a wg-quick configuration'
complete -c tollgate -n "__fish_tollgate_needs_command" -f -a "who-can" -d 'List every person and client the repository lets make a request in a cluster, and through which binding'
complete -c tollgate -n "__fish_tollgate_needs_command" -f -a "can" -d 'List everything one person or client may do in a cluster, rule by rule, where and through which binding'
complete -c tollgate -n "__fish_tollgate_needs_command" -f -a "timeline" -d 'Show every change of one person\'s or client\'s access over the repository\'s history, with its commit'
complete -c tollgate -n "__fish_tollgate_needs_command" -f -a "schema" -d 'Write the JSON Schema of every document kind'
complete -c tollgate -n "__fish_tollgate_needs_command" -f -a "completions" -d 'Print a shell completion script, or write every script and the manual pages'
complete -c tollgate -n "__fish_tollgate_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c tollgate -n "__fish_tollgate_using_subcommand validate" -l repo -d 'The access repository\'s config root' -r -F
complete -c tollgate -n "__fish_tollgate_using_subcommand validate" -l now -d 'Evaluate expiries at this RFC 3339 time instead of now (reproducible plans and tests)' -r
complete -c tollgate -n "__fish_tollgate_using_subcommand validate" -l json -d 'Print diagnostics as JSON'
complete -c tollgate -n "__fish_tollgate_using_subcommand validate" -s h -l help -d 'Print help'
complete -c tollgate -n "__fish_tollgate_using_subcommand render" -l repo -d 'The access repository\'s config root' -r -F
complete -c tollgate -n "__fish_tollgate_using_subcommand render" -l now -d 'Evaluate expiries at this RFC 3339 time instead of now (reproducible plans and tests)' -r
complete -c tollgate -n "__fish_tollgate_using_subcommand render" -l cluster -d 'The cluster to render, as the repository\'s Settings name it' -r
complete -c tollgate -n "__fish_tollgate_using_subcommand render" -l revision -d 'Git revision to record in the objects\' annotations' -r
complete -c tollgate -n "__fish_tollgate_using_subcommand render" -s h -l help -d 'Print help'
complete -c tollgate -n "__fish_tollgate_using_subcommand plan" -l repo -d 'The access repository\'s config root' -r -F
complete -c tollgate -n "__fish_tollgate_using_subcommand plan" -l now -d 'Evaluate expiries at this RFC 3339 time instead of now (reproducible plans and tests)' -r
complete -c tollgate -n "__fish_tollgate_using_subcommand plan" -l cluster -d 'The cluster to plan, as the repository\'s Settings name it' -r
complete -c tollgate -n "__fish_tollgate_using_subcommand plan" -l live-from -d 'Plan against the objects in this file (`kubectl get -o yaml` output, or multi-document YAML) instead of the live cluster' -r -F
complete -c tollgate -n "__fish_tollgate_using_subcommand plan" -l kubeconfig -d 'The kubeconfig file. Default: `KUBECONFIG`, then `~/.kube/config`, then the pod\'s service account' -r -F
complete -c tollgate -n "__fish_tollgate_using_subcommand plan" -l context -d 'The kubeconfig context. Default: its current context' -r
complete -c tollgate -n "__fish_tollgate_using_subcommand plan" -l qps -d 'Client-side rate limit: API requests per second' -r
complete -c tollgate -n "__fish_tollgate_using_subcommand plan" -l burst -d 'Client-side rate limit: requests allowed at once above `--qps` before pacing starts' -r
complete -c tollgate -n "__fish_tollgate_using_subcommand plan" -l list-page-size -d 'Objects per page when reading the live state: fewer requests with larger pages, less memory with smaller ones' -r
complete -c tollgate -n "__fish_tollgate_using_subcommand plan" -l out -d 'Save the plan for `tollgate apply FILE` (live plans only)' -r -F
complete -c tollgate -n "__fish_tollgate_using_subcommand plan" -l output -d '`human`: Terraform-like text; `json`: the plan as data (`formatVersion: 1`); `markdown`: a merge-request comment' -r -f -a "human\t''
json\t''
markdown\t''"
complete -c tollgate -n "__fish_tollgate_using_subcommand plan" -l color -d 'Colour the human output: `auto` on a terminal unless `NO_COLOR` is set' -r -f -a "auto\t''
always\t''
never\t''"
complete -c tollgate -n "__fish_tollgate_using_subcommand plan" -l revision -d 'Git revision to record in the objects\' annotations' -r
complete -c tollgate -n "__fish_tollgate_using_subcommand plan" -l offline -d 'Plan against an empty cluster instead of the live one'
complete -c tollgate -n "__fish_tollgate_using_subcommand plan" -l detailed-exitcode -d 'Exit 2 when the plan has changes, 0 when it has none, 1 on error (as Terraform\'s flag); 3 when its changes give someone power over other people\'s access or data (its "needs a second look" section)'
complete -c tollgate -n "__fish_tollgate_using_subcommand plan" -s h -l help -d 'Print help'
complete -c tollgate -n "__fish_tollgate_using_subcommand apply" -l repo -d 'The access repository\'s config root' -r -F
complete -c tollgate -n "__fish_tollgate_using_subcommand apply" -l now -d 'Evaluate expiries at this RFC 3339 time instead of now (reproducible plans and tests)' -r
complete -c tollgate -n "__fish_tollgate_using_subcommand apply" -l cluster -d 'The cluster to apply to, as the repository\'s Settings name it' -r
complete -c tollgate -n "__fish_tollgate_using_subcommand apply" -l kubeconfig -d 'The kubeconfig file. Default: `KUBECONFIG`, then `~/.kube/config`, then the pod\'s service account' -r -F
complete -c tollgate -n "__fish_tollgate_using_subcommand apply" -l context -d 'The kubeconfig context. Default: its current context' -r
complete -c tollgate -n "__fish_tollgate_using_subcommand apply" -l qps -d 'Client-side rate limit: API requests per second' -r
complete -c tollgate -n "__fish_tollgate_using_subcommand apply" -l burst -d 'Client-side rate limit: requests allowed at once above `--qps` before pacing starts' -r
complete -c tollgate -n "__fish_tollgate_using_subcommand apply" -l list-page-size -d 'Objects per page when reading the live state: fewer requests with larger pages, less memory with smaller ones' -r
complete -c tollgate -n "__fish_tollgate_using_subcommand apply" -l concurrency -d 'API requests in flight at once' -r
complete -c tollgate -n "__fish_tollgate_using_subcommand apply" -l output -d '`human` prints the plan and the outcome of each object; `json` prints only the apply report' -r -f -a "human\t''
json\t''"
complete -c tollgate -n "__fish_tollgate_using_subcommand apply" -l report -d 'Also write the apply report as JSON to this file' -r -F
complete -c tollgate -n "__fish_tollgate_using_subcommand apply" -l color -d 'Colour the human output: `auto` on a terminal unless `NO_COLOR` is set' -r -f -a "auto\t''
always\t''
never\t''"
complete -c tollgate -n "__fish_tollgate_using_subcommand apply" -l revision -d 'Git revision to record in the objects\' annotations (default with --git: the fetched commit)' -r
complete -c tollgate -n "__fish_tollgate_using_subcommand apply" -l git -d 'Read the configuration from this remote\'s branch head instead of --repo (fetched with gix into a local bare cache; no working tree). HTTP(S), SSH, git:// and file URLs' -r
complete -c tollgate -n "__fish_tollgate_using_subcommand apply" -l branch -d 'The branch to read (and to push client files to)' -r
complete -c tollgate -n "__fish_tollgate_using_subcommand apply" -l git-cache -d 'The bare cache repository. Default: a folder per URL and branch under ~/.cache/tollgate/git' -r -F
complete -c tollgate -n "__fish_tollgate_using_subcommand apply" -l git-token-file -d 'HTTP(S): a file holding the token to authenticate with (read when Git asks, never logged)' -r -F
complete -c tollgate -n "__fish_tollgate_using_subcommand apply" -l git-username -d 'HTTP(S): the username sent with --git-token-file' -r
complete -c tollgate -n "__fish_tollgate_using_subcommand apply" -l git-ssh-key -d 'SSH: the private key file to authenticate with' -r -F
complete -c tollgate -n "__fish_tollgate_using_subcommand apply" -l git-known-hosts -d 'SSH: the server\'s host keys (`known_hosts` format), checked strictly. Default: ssh\'s own known hosts' -r -F
complete -c tollgate -n "__fish_tollgate_using_subcommand apply" -l author -d 'The author and committer of published client files, as `Name <email>`' -r
complete -c tollgate -n "__fish_tollgate_using_subcommand apply" -l namespace -d 'The controller\'s namespace, where the record of what was applied (and who may sign next) is kept' -r
complete -c tollgate -n "__fish_tollgate_using_subcommand apply" -s y -l yes -d 'Apply without asking; required when standard input is not a terminal'
complete -c tollgate -n "__fish_tollgate_using_subcommand apply" -l adopt -d 'Take over same-named objects that exist without tollgate\'s labels instead of refusing'
complete -c tollgate -n "__fish_tollgate_using_subcommand apply" -l allow-mass-deletion -d 'Apply even when the plan deletes more than the deletion guard allows'
complete -c tollgate -n "__fish_tollgate_using_subcommand apply" -l allow-namespace-deletion -d 'Delete Namespaces tollgate created that the repository no longer has (with every object in them)'
complete -c tollgate -n "__fish_tollgate_using_subcommand apply" -l publish -d 'After a successful apply, issue the clients\' credentials and publish their files (encrypted to their recipients) to the --git repository, in one commit that touches only the artifacts path'
complete -c tollgate -n "__fish_tollgate_using_subcommand apply" -l allow-rewritten-history -d 'Apply a --git head that no longer contains the last revision applied with a verified signature (after a force push); only after checking it, since replaying an old signed commit undoes later ones'
complete -c tollgate -n "__fish_tollgate_using_subcommand apply" -s h -l help -d 'Print help'
complete -c tollgate -n "__fish_tollgate_using_subcommand controller" -l cluster -d 'The cluster this controller reconciles, as the repository\'s Settings name it' -r
complete -c tollgate -n "__fish_tollgate_using_subcommand controller" -l git -d 'Read the configuration from this remote\'s branch head instead of --repo (fetched with gix into a local bare cache; no working tree). HTTP(S), SSH, git:// and file URLs' -r
complete -c tollgate -n "__fish_tollgate_using_subcommand controller" -l branch -d 'The branch to read (and to push client files to)' -r
complete -c tollgate -n "__fish_tollgate_using_subcommand controller" -l git-cache -d 'The bare cache repository. Default: a folder per URL and branch under ~/.cache/tollgate/git' -r -F
complete -c tollgate -n "__fish_tollgate_using_subcommand controller" -l git-token-file -d 'HTTP(S): a file holding the token to authenticate with (read when Git asks, never logged)' -r -F
complete -c tollgate -n "__fish_tollgate_using_subcommand controller" -l git-username -d 'HTTP(S): the username sent with --git-token-file' -r
complete -c tollgate -n "__fish_tollgate_using_subcommand controller" -l git-ssh-key -d 'SSH: the private key file to authenticate with' -r -F
complete -c tollgate -n "__fish_tollgate_using_subcommand controller" -l git-known-hosts -d 'SSH: the server\'s host keys (`known_hosts` format), checked strictly. Default: ssh\'s own known hosts' -r -F
complete -c tollgate -n "__fish_tollgate_using_subcommand controller" -l author -d 'The author and committer of published client files, as `Name <email>`' -r
complete -c tollgate -n "__fish_tollgate_using_subcommand controller" -l kubeconfig -d 'The kubeconfig file. Default: `KUBECONFIG`, then `~/.kube/config`, then the pod\'s service account' -r -F
complete -c tollgate -n "__fish_tollgate_using_subcommand controller" -l context -d 'The kubeconfig context. Default: its current context' -r
complete -c tollgate -n "__fish_tollgate_using_subcommand controller" -l qps -d 'Client-side rate limit: API requests per second' -r
complete -c tollgate -n "__fish_tollgate_using_subcommand controller" -l burst -d 'Client-side rate limit: requests allowed at once above `--qps` before pacing starts' -r
complete -c tollgate -n "__fish_tollgate_using_subcommand controller" -l list-page-size -d 'Objects per page when reading the live state: fewer requests with larger pages, less memory with smaller ones' -r
complete -c tollgate -n "__fish_tollgate_using_subcommand controller" -l interval -d 'How often to ask Git for the branch head (advertised refs only; nothing is fetched unless it moved)' -r
complete -c tollgate -n "__fish_tollgate_using_subcommand controller" -l resync -d 'When to reconcile even if Git did not move: repairs drift, renews tokens, enforces expiries and sunsets on time. A cron expression with seconds: `sec min hour day-of-month month day-of-week`' -r
complete -c tollgate -n "__fish_tollgate_using_subcommand controller" -l namespace -d 'The controller\'s namespace: its Lease, its status ConfigMap and its Events' -r
complete -c tollgate -n "__fish_tollgate_using_subcommand controller" -l identity -d 'This replica\'s name in the Lease' -r
complete -c tollgate -n "__fish_tollgate_using_subcommand controller" -l lease-name -d 'The Lease replicas elect a leader with, in `--namespace`' -r
complete -c tollgate -n "__fish_tollgate_using_subcommand controller" -l lease-duration -d 'How long the lease holds without renewal; a standby takes over after this long' -r
complete -c tollgate -n "__fish_tollgate_using_subcommand controller" -l listen -d 'Where /healthz, /readyz and /metrics are served' -r
complete -c tollgate -n "__fish_tollgate_using_subcommand controller" -l concurrency -d 'API requests in flight at once during an apply' -r
complete -c tollgate -n "__fish_tollgate_using_subcommand controller" -l webhook-listen -d 'Also receive push webhooks (GitHub, GitLab, Gitea/Forgejo) on this address at `POST /webhook`: a verified push to the branch makes the controller poll at once' -r
complete -c tollgate -n "__fish_tollgate_using_subcommand controller" -l webhook-secret-file -d 'The webhook\'s shared secret (GitHub/Gitea: the HMAC key; GitLab: the token), read from this file' -r -F
complete -c tollgate -n "__fish_tollgate_using_subcommand controller" -l no-leader-election -d 'Run without leader election (exactly one replica)'
complete -c tollgate -n "__fish_tollgate_using_subcommand controller" -l no-publish -d 'Apply only; do not issue credentials or publish client files'
complete -c tollgate -n "__fish_tollgate_using_subcommand controller" -s h -l help -d 'Print help'
complete -c tollgate -n "__fish_tollgate_using_subcommand gateway" -l kubeconfig -d 'The kubeconfig file. Default: `KUBECONFIG`, then `~/.kube/config`, then the pod\'s service account' -r -F
complete -c tollgate -n "__fish_tollgate_using_subcommand gateway" -l context -d 'The kubeconfig context. Default: its current context' -r
complete -c tollgate -n "__fish_tollgate_using_subcommand gateway" -l qps -d 'Client-side rate limit: API requests per second' -r
complete -c tollgate -n "__fish_tollgate_using_subcommand gateway" -l burst -d 'Client-side rate limit: requests allowed at once above `--qps` before pacing starts' -r
complete -c tollgate -n "__fish_tollgate_using_subcommand gateway" -l list-page-size -d 'Objects per page when reading the live state: fewer requests with larger pages, less memory with smaller ones' -r
complete -c tollgate -n "__fish_tollgate_using_subcommand gateway" -l namespace -d 'The gateway\'s own (the controller\'s) namespace, where it writes its status (ConfigMap tollgate-gateway-status) for `tollgate status`' -r
complete -c tollgate -n "__fish_tollgate_using_subcommand gateway" -l clients-namespace -d 'Settings\' clientsNamespace: where the controller publishes the peer list (ConfigMap tollgate-peers) and the gateway\'s key (Secret tollgate-gateway)' -r
complete -c tollgate -n "__fish_tollgate_using_subcommand gateway" -l interface -d 'The WireGuard interface to create (at most 15 characters, unique on the host)' -r
complete -c tollgate -n "__fish_tollgate_using_subcommand gateway" -l listen-port -d 'The UDP port WireGuard listens on (the gateway Service\'s target port)' -r
complete -c tollgate -n "__fish_tollgate_using_subcommand gateway" -l threads -d 'boringtun worker threads' -r
complete -c tollgate -n "__fish_tollgate_using_subcommand gateway" -l interval -d 'How often the peer list is read and the device compared with it' -r
complete -c tollgate -n "__fish_tollgate_using_subcommand gateway" -l addresses-interval -d 'How often the Service and Pod addresses of namespaces are read, when a client is bound to namespaces (a new Pod is reachable after at most this long)' -r
complete -c tollgate -n "__fish_tollgate_using_subcommand gateway" -l listen -d 'Where /healthz, /readyz and /metrics are served' -r
complete -c tollgate -n "__fish_tollgate_using_subcommand gateway" -l no-forward -d 'Do not turn on IP forwarding (it is on already: an init container or the pod\'s sysctls). The filter that keeps clients to their grants is installed either way'
complete -c tollgate -n "__fish_tollgate_using_subcommand gateway" -l no-masquerade -d 'Do not masquerade clients\' packets (the cluster network then needs a route back to the client pool)'
complete -c tollgate -n "__fish_tollgate_using_subcommand gateway" -l enable-forwarding-only -d 'Only turn on IP forwarding in this network namespace, then exit (the gateway pod\'s privileged init container; the gateway itself needs NET_ADMIN only)'
complete -c tollgate -n "__fish_tollgate_using_subcommand gateway" -s h -l help -d 'Print help'
complete -c tollgate -n "__fish_tollgate_using_subcommand session-gateway" -l kubeconfig -d 'The kubeconfig file. Default: `KUBECONFIG`, then `~/.kube/config`, then the pod\'s service account' -r -F
complete -c tollgate -n "__fish_tollgate_using_subcommand session-gateway" -l context -d 'The kubeconfig context. Default: its current context' -r
complete -c tollgate -n "__fish_tollgate_using_subcommand session-gateway" -l qps -d 'Client-side rate limit: API requests per second' -r
complete -c tollgate -n "__fish_tollgate_using_subcommand session-gateway" -l burst -d 'Client-side rate limit: requests allowed at once above `--qps` before pacing starts' -r
complete -c tollgate -n "__fish_tollgate_using_subcommand session-gateway" -l list-page-size -d 'Objects per page when reading the live state: fewer requests with larger pages, less memory with smaller ones' -r
complete -c tollgate -n "__fish_tollgate_using_subcommand session-gateway" -l namespace -d 'The gateway\'s own (the controller\'s) namespace, where its host key is kept (Secret tollgate-session-gateway, generated by the first start)' -r
complete -c tollgate -n "__fish_tollgate_using_subcommand session-gateway" -l clients-namespace -d 'Settings\' clientsNamespace: where the controller publishes the session directory (ConfigMap tollgate-sessions) and the gateway its status (ConfigMap tollgate-session-gateway-status)' -r
complete -c tollgate -n "__fish_tollgate_using_subcommand session-gateway" -l advertise -d 'Where people reach the gateway, HOST or HOST:PORT as they type it (e.g. sessions.example.com:2222): the controller publishes the host key\'s known_hosts line for it in the repository (<artifactsPath>/<cluster>/known_hosts)' -r
complete -c tollgate -n "__fish_tollgate_using_subcommand session-gateway" -l listen -d 'Where the SSH server listens' -r
complete -c tollgate -n "__fish_tollgate_using_subcommand session-gateway" -l refresh-interval -d 'How often the session directory is read again (users\' keys and environments follow the repository), and at most how often the status (live sessions, their last input for idle times) is written' -r
complete -c tollgate -n "__fish_tollgate_using_subcommand session-gateway" -l reap-interval -d 'How often session pods that no live session holds are looked for and removed' -r
complete -c tollgate -n "__fish_tollgate_using_subcommand session-gateway" -l login-grace-time -d 'How long a connection may take to authenticate before it is closed (OpenSSH\'s LoginGraceTime)' -r
complete -c tollgate -n "__fish_tollgate_using_subcommand session-gateway" -l max-unauthenticated -d 'At most this many connections may be unauthenticated at once; more are closed at once (OpenSSH\'s MaxStartups)' -r
complete -c tollgate -n "__fish_tollgate_using_subcommand session-gateway" -l max-sessions-per-connection -d 'At most this many sessions (each a pod) at once on one connection (OpenSSH\'s MaxSessions)' -r
complete -c tollgate -n "__fish_tollgate_using_subcommand session-gateway" -l max-sessions-per-user -d 'At most this many sessions (each a pod) at once for one user, over all their connections' -r
complete -c tollgate -n "__fish_tollgate_using_subcommand session-gateway" -s h -l help -d 'Print help'
complete -c tollgate -n "__fish_tollgate_using_subcommand sessions" -l kubeconfig -d 'The kubeconfig file. Default: `KUBECONFIG`, then `~/.kube/config`, then the pod\'s service account' -r -F
complete -c tollgate -n "__fish_tollgate_using_subcommand sessions" -l context -d 'The kubeconfig context. Default: its current context' -r
complete -c tollgate -n "__fish_tollgate_using_subcommand sessions" -l qps -d 'Client-side rate limit: API requests per second' -r
complete -c tollgate -n "__fish_tollgate_using_subcommand sessions" -l burst -d 'Client-side rate limit: requests allowed at once above `--qps` before pacing starts' -r
complete -c tollgate -n "__fish_tollgate_using_subcommand sessions" -l list-page-size -d 'Objects per page when reading the live state: fewer requests with larger pages, less memory with smaller ones' -r
complete -c tollgate -n "__fish_tollgate_using_subcommand sessions" -l clients-namespace -d 'Settings\' clientsNamespace: where the session gateway reports when each session last had input' -r
complete -c tollgate -n "__fish_tollgate_using_subcommand sessions" -l json -d 'Print JSON instead of a table'
complete -c tollgate -n "__fish_tollgate_using_subcommand sessions" -s h -l help -d 'Print help'
complete -c tollgate -n "__fish_tollgate_using_subcommand connect" -s i -l identity -d 'An identity file to decrypt with, as `age -d -i`. Repeatable' -r -F
complete -c tollgate -n "__fish_tollgate_using_subcommand connect" -l interface -d 'The WireGuard interface to create (at most 15 characters; one per tunnel on this machine)' -r
complete -c tollgate -n "__fish_tollgate_using_subcommand connect" -l kubeconfig -d 'Also merge the client\'s context into this kubeconfig (as `client update-kubeconfig --use-context`)' -r -F
complete -c tollgate -n "__fish_tollgate_using_subcommand connect" -s h -l help -d 'Print help'
complete -c tollgate -n "__fish_tollgate_using_subcommand status" -l namespace -d 'The controller\'s namespace' -r
complete -c tollgate -n "__fish_tollgate_using_subcommand status" -l clients-namespace -d 'Settings\' clientsNamespace: where the session gateway reports its host key and live sessions' -r
complete -c tollgate -n "__fish_tollgate_using_subcommand status" -l kubeconfig -d 'The kubeconfig file. Default: `KUBECONFIG`, then `~/.kube/config`, then the pod\'s service account' -r -F
complete -c tollgate -n "__fish_tollgate_using_subcommand status" -l context -d 'The kubeconfig context. Default: its current context' -r
complete -c tollgate -n "__fish_tollgate_using_subcommand status" -l qps -d 'Client-side rate limit: API requests per second' -r
complete -c tollgate -n "__fish_tollgate_using_subcommand status" -l burst -d 'Client-side rate limit: requests allowed at once above `--qps` before pacing starts' -r
complete -c tollgate -n "__fish_tollgate_using_subcommand status" -l list-page-size -d 'Objects per page when reading the live state: fewer requests with larger pages, less memory with smaller ones' -r
complete -c tollgate -n "__fish_tollgate_using_subcommand status" -l json -d 'Print the status as JSON'
complete -c tollgate -n "__fish_tollgate_using_subcommand status" -s h -l help -d 'Print help'
complete -c tollgate -n "__fish_tollgate_using_subcommand clients" -l repo -d 'The access repository\'s config root' -r -F
complete -c tollgate -n "__fish_tollgate_using_subcommand clients" -l now -d 'Evaluate expiries at this RFC 3339 time instead of now (reproducible plans and tests)' -r
complete -c tollgate -n "__fish_tollgate_using_subcommand clients" -l cluster -d 'Only this Settings cluster; it is also the cluster the kubeconfig reaches (default: the Settings cluster whose `apiServer` is the kubeconfig\'s server)' -r
complete -c tollgate -n "__fish_tollgate_using_subcommand clients" -l kubeconfig -d 'The kubeconfig file. Default: `KUBECONFIG`, then `~/.kube/config`, then the pod\'s service account' -r -F
complete -c tollgate -n "__fish_tollgate_using_subcommand clients" -l context -d 'The kubeconfig context. Default: its current context' -r
complete -c tollgate -n "__fish_tollgate_using_subcommand clients" -l qps -d 'Client-side rate limit: API requests per second' -r
complete -c tollgate -n "__fish_tollgate_using_subcommand clients" -l burst -d 'Client-side rate limit: requests allowed at once above `--qps` before pacing starts' -r
complete -c tollgate -n "__fish_tollgate_using_subcommand clients" -l list-page-size -d 'Objects per page when reading the live state: fewer requests with larger pages, less memory with smaller ones' -r
complete -c tollgate -n "__fish_tollgate_using_subcommand clients" -l offline -d 'Do not read the cluster: show what the repository says'
complete -c tollgate -n "__fish_tollgate_using_subcommand clients" -l json -d 'Print the clients as JSON'
complete -c tollgate -n "__fish_tollgate_using_subcommand clients" -s h -l help -d 'Print help'
complete -c tollgate -n "__fish_tollgate_using_subcommand client; and not __fish_seen_subcommand_from kubeconfig wg-config update-kubeconfig new inspect get-token help" -s h -l help -d 'Print help'
complete -c tollgate -n "__fish_tollgate_using_subcommand client; and not __fish_seen_subcommand_from kubeconfig wg-config update-kubeconfig new inspect get-token help" -f -a "kubeconfig" -d 'Write a kubeconfig with the token in it (`update-kubeconfig` keeps the token off the disk)'
complete -c tollgate -n "__fish_tollgate_using_subcommand client; and not __fish_seen_subcommand_from kubeconfig wg-config update-kubeconfig new inspect get-token help" -f -a "wg-config" -d 'Write a wg-quick configuration for the client\'s WireGuard tunnel'
complete -c tollgate -n "__fish_tollgate_using_subcommand client; and not __fish_seen_subcommand_from kubeconfig wg-config update-kubeconfig new inspect get-token help" -f -a "update-kubeconfig" -d 'Add a context per client file to your kubeconfig, with no token on disk'
complete -c tollgate -n "__fish_tollgate_using_subcommand client; and not __fish_seen_subcommand_from kubeconfig wg-config update-kubeconfig new inspect get-token help" -f -a "new" -d 'Write new Client documents into the repository (validated with it first)'
complete -c tollgate -n "__fish_tollgate_using_subcommand client; and not __fish_seen_subcommand_from kubeconfig wg-config update-kubeconfig new inspect get-token help" -f -a "inspect" -d 'Show one client in full: owners, recipients, who it acts as, and the state of its credentials and why'
complete -c tollgate -n "__fish_tollgate_using_subcommand client; and not __fish_seen_subcommand_from kubeconfig wg-config update-kubeconfig new inspect get-token help" -f -a "get-token" -d 'Print the client\'s token as an ExecCredential for kubectl (the exec plugin `update-kubeconfig` writes)'
complete -c tollgate -n "__fish_tollgate_using_subcommand client; and not __fish_seen_subcommand_from kubeconfig wg-config update-kubeconfig new inspect get-token help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c tollgate -n "__fish_tollgate_using_subcommand client; and __fish_seen_subcommand_from kubeconfig" -s i -l identity -d 'An identity file to decrypt with, as `age -d -i`: age keys (optionally `age -p` encrypted) or an SSH private key (a passphrase is asked for on the terminal). Repeatable' -r -F
complete -c tollgate -n "__fish_tollgate_using_subcommand client; and __fish_seen_subcommand_from kubeconfig" -s o -l output -d 'Write here (created with mode 0600) instead of standard output' -r -F
complete -c tollgate -n "__fish_tollgate_using_subcommand client; and __fish_seen_subcommand_from kubeconfig" -s h -l help -d 'Print help'
complete -c tollgate -n "__fish_tollgate_using_subcommand client; and __fish_seen_subcommand_from wg-config" -s i -l identity -d 'An identity file to decrypt with, as `age -d -i`: age keys (optionally `age -p` encrypted) or an SSH private key (a passphrase is asked for on the terminal). Repeatable' -r -F
complete -c tollgate -n "__fish_tollgate_using_subcommand client; and __fish_seen_subcommand_from wg-config" -s o -l output -d 'Write here (created with mode 0600) instead of standard output' -r -F
complete -c tollgate -n "__fish_tollgate_using_subcommand client; and __fish_seen_subcommand_from wg-config" -s h -l help -d 'Print help'
complete -c tollgate -n "__fish_tollgate_using_subcommand client; and __fish_seen_subcommand_from update-kubeconfig" -s i -l identity -d 'An identity file to decrypt with, as `age -d -i`: age keys (optionally `age -p` encrypted) or an SSH private key (a passphrase is asked for on the terminal). Repeatable' -r -F
complete -c tollgate -n "__fish_tollgate_using_subcommand client; and __fish_seen_subcommand_from update-kubeconfig" -l kubeconfig -d 'The kubeconfig to update. Default: the first file of `KUBECONFIG`, then `~/.kube/config`' -r -F
complete -c tollgate -n "__fish_tollgate_using_subcommand client; and __fish_seen_subcommand_from update-kubeconfig" -l context-name -d 'The context\'s name instead of `<cluster>/<client>` (one client file only)' -r
complete -c tollgate -n "__fish_tollgate_using_subcommand client; and __fish_seen_subcommand_from update-kubeconfig" -l server -d 'The API server URL instead of the one in the client file (e.g. a tunnel or a private endpoint)' -r
complete -c tollgate -n "__fish_tollgate_using_subcommand client; and __fish_seen_subcommand_from update-kubeconfig" -l use-context -d 'Make the (first file\'s) context the current context'
complete -c tollgate -n "__fish_tollgate_using_subcommand client; and __fish_seen_subcommand_from update-kubeconfig" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c tollgate -n "__fish_tollgate_using_subcommand client; and __fish_seen_subcommand_from new" -l owner -d 'A user who owns the client: their keys open its file and their `accessAs: client` grants land on it. Repeatable' -r
complete -c tollgate -n "__fish_tollgate_using_subcommand client; and __fish_seen_subcommand_from new" -l cluster -d 'A cluster the client gets credentials for. Repeatable. Default: every cluster of the Settings document' -r
complete -c tollgate -n "__fish_tollgate_using_subcommand client; and __fish_seen_subcommand_from new" -l count -d 'Make this many clients, named `<name>-1`, `<name>-2`, ... (skipping names that are taken)' -r
complete -c tollgate -n "__fish_tollgate_using_subcommand client; and __fish_seen_subcommand_from new" -l default-namespace -d 'The namespace of the client\'s kubeconfig context' -r
complete -c tollgate -n "__fish_tollgate_using_subcommand client; and __fish_seen_subcommand_from new" -l repo -d 'The access repository\'s config root' -r -F
complete -c tollgate -n "__fish_tollgate_using_subcommand client; and __fish_seen_subcommand_from new" -l now -d 'Evaluate expiries at this RFC 3339 time instead of now (reproducible plans and tests)' -r
complete -c tollgate -n "__fish_tollgate_using_subcommand client; and __fish_seen_subcommand_from new" -l no-vpn -d 'No WireGuard key and address range (the default when a cluster has no `gateway` and `clientPool`)'
complete -c tollgate -n "__fish_tollgate_using_subcommand client; and __fish_seen_subcommand_from new" -s h -l help -d 'Print help'
complete -c tollgate -n "__fish_tollgate_using_subcommand client; and __fish_seen_subcommand_from inspect" -l repo -d 'The access repository\'s config root' -r -F
complete -c tollgate -n "__fish_tollgate_using_subcommand client; and __fish_seen_subcommand_from inspect" -l now -d 'Evaluate expiries at this RFC 3339 time instead of now (reproducible plans and tests)' -r
complete -c tollgate -n "__fish_tollgate_using_subcommand client; and __fish_seen_subcommand_from inspect" -l cluster -d 'Only this Settings cluster; it is also the cluster the kubeconfig reaches (default: the Settings cluster whose `apiServer` is the kubeconfig\'s server)' -r
complete -c tollgate -n "__fish_tollgate_using_subcommand client; and __fish_seen_subcommand_from inspect" -l kubeconfig -d 'The kubeconfig file. Default: `KUBECONFIG`, then `~/.kube/config`, then the pod\'s service account' -r -F
complete -c tollgate -n "__fish_tollgate_using_subcommand client; and __fish_seen_subcommand_from inspect" -l context -d 'The kubeconfig context. Default: its current context' -r
complete -c tollgate -n "__fish_tollgate_using_subcommand client; and __fish_seen_subcommand_from inspect" -l qps -d 'Client-side rate limit: API requests per second' -r
complete -c tollgate -n "__fish_tollgate_using_subcommand client; and __fish_seen_subcommand_from inspect" -l burst -d 'Client-side rate limit: requests allowed at once above `--qps` before pacing starts' -r
complete -c tollgate -n "__fish_tollgate_using_subcommand client; and __fish_seen_subcommand_from inspect" -l list-page-size -d 'Objects per page when reading the live state: fewer requests with larger pages, less memory with smaller ones' -r
complete -c tollgate -n "__fish_tollgate_using_subcommand client; and __fish_seen_subcommand_from inspect" -l offline -d 'Do not read the cluster: show what the repository says'
complete -c tollgate -n "__fish_tollgate_using_subcommand client; and __fish_seen_subcommand_from inspect" -l json -d 'Print the client as JSON'
complete -c tollgate -n "__fish_tollgate_using_subcommand client; and __fish_seen_subcommand_from inspect" -s h -l help -d 'Print help'
complete -c tollgate -n "__fish_tollgate_using_subcommand client; and __fish_seen_subcommand_from get-token" -s i -l identity -d 'An identity file to decrypt with, as for `update-kubeconfig`. Repeatable' -r -F
complete -c tollgate -n "__fish_tollgate_using_subcommand client; and __fish_seen_subcommand_from get-token" -l as -d 'The user the kubeconfig acts as (its `as`): the command fails if the client file now says otherwise' -r
complete -c tollgate -n "__fish_tollgate_using_subcommand client; and __fish_seen_subcommand_from get-token" -l as-group -d 'A group the kubeconfig acts as (its `as-groups`); repeatable' -r
complete -c tollgate -n "__fish_tollgate_using_subcommand client; and __fish_seen_subcommand_from get-token" -l as-client -d 'The kubeconfig entry is the client as itself (`<name>/as-client`): whom the client file acts as is not checked'
complete -c tollgate -n "__fish_tollgate_using_subcommand client; and __fish_seen_subcommand_from get-token" -s h -l help -d 'Print help'
complete -c tollgate -n "__fish_tollgate_using_subcommand client; and __fish_seen_subcommand_from help" -f -a "kubeconfig" -d 'Write a kubeconfig with the token in it (`update-kubeconfig` keeps the token off the disk)'
complete -c tollgate -n "__fish_tollgate_using_subcommand client; and __fish_seen_subcommand_from help" -f -a "wg-config" -d 'Write a wg-quick configuration for the client\'s WireGuard tunnel'
complete -c tollgate -n "__fish_tollgate_using_subcommand client; and __fish_seen_subcommand_from help" -f -a "update-kubeconfig" -d 'Add a context per client file to your kubeconfig, with no token on disk'
complete -c tollgate -n "__fish_tollgate_using_subcommand client; and __fish_seen_subcommand_from help" -f -a "new" -d 'Write new Client documents into the repository (validated with it first)'
complete -c tollgate -n "__fish_tollgate_using_subcommand client; and __fish_seen_subcommand_from help" -f -a "inspect" -d 'Show one client in full: owners, recipients, who it acts as, and the state of its credentials and why'
complete -c tollgate -n "__fish_tollgate_using_subcommand client; and __fish_seen_subcommand_from help" -f -a "get-token" -d 'Print the client\'s token as an ExecCredential for kubectl (the exec plugin `update-kubeconfig` writes)'
complete -c tollgate -n "__fish_tollgate_using_subcommand client; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c tollgate -n "__fish_tollgate_using_subcommand who-can" -s n -l namespace -d 'The namespace; without it, the question is cluster-wide (only ClusterRoleBindings answer)' -r
complete -c tollgate -n "__fish_tollgate_using_subcommand who-can" -l repo -d 'The access repository\'s config root' -r -F
complete -c tollgate -n "__fish_tollgate_using_subcommand who-can" -l now -d 'Evaluate expiries at this RFC 3339 time instead of now (reproducible plans and tests)' -r
complete -c tollgate -n "__fish_tollgate_using_subcommand who-can" -l cluster -d 'The cluster, as the repository\'s Settings name it' -r
complete -c tollgate -n "__fish_tollgate_using_subcommand who-can" -l roles-from -d 'Read the ClusterRoles the repository does not define from this file (`kubectl get clusterroles -o yaml`)' -r -F
complete -c tollgate -n "__fish_tollgate_using_subcommand who-can" -l kubeconfig -d 'The kubeconfig file. Default: `KUBECONFIG`, then `~/.kube/config`, then the pod\'s service account' -r -F
complete -c tollgate -n "__fish_tollgate_using_subcommand who-can" -l context -d 'The kubeconfig context. Default: its current context' -r
complete -c tollgate -n "__fish_tollgate_using_subcommand who-can" -l qps -d 'Client-side rate limit: API requests per second' -r
complete -c tollgate -n "__fish_tollgate_using_subcommand who-can" -l burst -d 'Client-side rate limit: requests allowed at once above `--qps` before pacing starts' -r
complete -c tollgate -n "__fish_tollgate_using_subcommand who-can" -l list-page-size -d 'Objects per page when reading the live state: fewer requests with larger pages, less memory with smaller ones' -r
complete -c tollgate -n "__fish_tollgate_using_subcommand who-can" -l at -d 'Answer as the repository stood at a commit (`HEAD~3`, a commit id, a tag) or a date of its first-parent history (`2026-11-30`: the end of that day, UTC; or RFC 3339), expiries evaluated at that instant; a commit that did not validate was never applied, so the one before it answers. Only the repository\'s roles and bindings (and Kubernetes\' default ClusterRoles) answer: the cluster is not read' -r
complete -c tollgate -n "__fish_tollgate_using_subcommand who-can" -l limit -d 'With --since: read at most this many commits back' -r
complete -c tollgate -n "__fish_tollgate_using_subcommand who-can" -l offline -d 'Do not read the cluster\'s roles and bindings'
complete -c tollgate -n "__fish_tollgate_using_subcommand who-can" -l json -d 'Print the answer as JSON'
complete -c tollgate -n "__fish_tollgate_using_subcommand who-can" -l since -d 'Also say since which commit each answer holds: walking the first-parent history back while the same subject may through the same binding (the repository\'s bindings only; commits that did not validate are passed over)'
complete -c tollgate -n "__fish_tollgate_using_subcommand who-can" -s h -l help -d 'Print help'
complete -c tollgate -n "__fish_tollgate_using_subcommand can" -l repo -d 'The access repository\'s config root' -r -F
complete -c tollgate -n "__fish_tollgate_using_subcommand can" -l now -d 'Evaluate expiries at this RFC 3339 time instead of now (reproducible plans and tests)' -r
complete -c tollgate -n "__fish_tollgate_using_subcommand can" -l cluster -d 'The cluster, as the repository\'s Settings name it' -r
complete -c tollgate -n "__fish_tollgate_using_subcommand can" -l roles-from -d 'Read the ClusterRoles the repository does not define from this file (`kubectl get clusterroles -o yaml`)' -r -F
complete -c tollgate -n "__fish_tollgate_using_subcommand can" -l kubeconfig -d 'The kubeconfig file. Default: `KUBECONFIG`, then `~/.kube/config`, then the pod\'s service account' -r -F
complete -c tollgate -n "__fish_tollgate_using_subcommand can" -l context -d 'The kubeconfig context. Default: its current context' -r
complete -c tollgate -n "__fish_tollgate_using_subcommand can" -l qps -d 'Client-side rate limit: API requests per second' -r
complete -c tollgate -n "__fish_tollgate_using_subcommand can" -l burst -d 'Client-side rate limit: requests allowed at once above `--qps` before pacing starts' -r
complete -c tollgate -n "__fish_tollgate_using_subcommand can" -l list-page-size -d 'Objects per page when reading the live state: fewer requests with larger pages, less memory with smaller ones' -r
complete -c tollgate -n "__fish_tollgate_using_subcommand can" -l at -d 'Answer as the repository stood at a commit (`HEAD~3`, a commit id, a tag) or a date of its first-parent history (`2026-11-30`: the end of that day, UTC; or RFC 3339), expiries evaluated at that instant; a commit that did not validate was never applied, so the one before it answers. Only the repository\'s roles and bindings (and Kubernetes\' default ClusterRoles) answer: the cluster is not read' -r
complete -c tollgate -n "__fish_tollgate_using_subcommand can" -l offline -d 'Do not read the cluster\'s roles and bindings'
complete -c tollgate -n "__fish_tollgate_using_subcommand can" -l json -d 'Print the answer as JSON'
complete -c tollgate -n "__fish_tollgate_using_subcommand can" -s h -l help -d 'Print help'
complete -c tollgate -n "__fish_tollgate_using_subcommand timeline" -l repo -d 'The access repository\'s config root' -r -F
complete -c tollgate -n "__fish_tollgate_using_subcommand timeline" -l now -d 'Evaluate expiries at this RFC 3339 time instead of now (reproducible plans and tests)' -r
complete -c tollgate -n "__fish_tollgate_using_subcommand timeline" -l cluster -d 'The cluster, as the repository\'s Settings name it' -r
complete -c tollgate -n "__fish_tollgate_using_subcommand timeline" -l limit -d 'Read at most this many commits back from HEAD' -r
complete -c tollgate -n "__fish_tollgate_using_subcommand timeline" -l namespace -d 'With --applied: the controller\'s namespace, which holds the record' -r
complete -c tollgate -n "__fish_tollgate_using_subcommand timeline" -l kubeconfig -d 'The kubeconfig file. Default: `KUBECONFIG`, then `~/.kube/config`, then the pod\'s service account' -r -F
complete -c tollgate -n "__fish_tollgate_using_subcommand timeline" -l context -d 'The kubeconfig context. Default: its current context' -r
complete -c tollgate -n "__fish_tollgate_using_subcommand timeline" -l qps -d 'Client-side rate limit: API requests per second' -r
complete -c tollgate -n "__fish_tollgate_using_subcommand timeline" -l burst -d 'Client-side rate limit: requests allowed at once above `--qps` before pacing starts' -r
complete -c tollgate -n "__fish_tollgate_using_subcommand timeline" -l list-page-size -d 'Objects per page when reading the live state: fewer requests with larger pages, less memory with smaller ones' -r
complete -c tollgate -n "__fish_tollgate_using_subcommand timeline" -l json -d 'Print the timeline as JSON'
complete -c tollgate -n "__fish_tollgate_using_subcommand timeline" -l applied -d 'Also read the cluster\'s record of what was applied (ConfigMap `tollgate-applied`, written by the controller and `tollgate apply`) and say when each change was first applied, or that it was not'
complete -c tollgate -n "__fish_tollgate_using_subcommand timeline" -s h -l help -d 'Print help'
complete -c tollgate -n "__fish_tollgate_using_subcommand schema" -l out -d 'The folder to write `<kind>.json` files to' -r -F
complete -c tollgate -n "__fish_tollgate_using_subcommand schema" -s h -l help -d 'Print help'
complete -c tollgate -n "__fish_tollgate_using_subcommand completions" -l out -d 'Write every shell\'s completion script to DIR/completions and the manual pages to DIR/man' -r -F
complete -c tollgate -n "__fish_tollgate_using_subcommand completions" -s h -l help -d 'Print help'
complete -c tollgate -n "__fish_tollgate_using_subcommand help; and not __fish_seen_subcommand_from validate render plan apply controller gateway session-gateway sessions connect status clients client who-can can timeline schema completions help" -f -a "validate" -d 'Check the repository and print every problem with its file, line and field'
complete -c tollgate -n "__fish_tollgate_using_subcommand help; and not __fish_seen_subcommand_from validate render plan apply controller gateway session-gateway sessions connect status clients client who-can can timeline schema completions help" -f -a "render" -d 'Print the objects one cluster should hold, as YAML that `kubectl apply -f -` accepts'
complete -c tollgate -n "__fish_tollgate_using_subcommand help; and not __fish_seen_subcommand_from validate render plan apply controller gateway session-gateway sessions connect status clients client who-can can timeline schema completions help" -f -a "plan" -d 'Show what would change in one cluster, per object and per person'
complete -c tollgate -n "__fish_tollgate_using_subcommand help; and not __fish_seen_subcommand_from validate render plan apply controller gateway session-gateway sessions connect status clients client who-can can timeline schema completions help" -f -a "apply" -d 'Plan against the live cluster and apply the plan: server-side apply, then prune'
complete -c tollgate -n "__fish_tollgate_using_subcommand help; and not __fish_seen_subcommand_from validate render plan apply controller gateway session-gateway sessions connect status clients client who-can can timeline schema completions help" -f -a "controller" -d 'Run in the cluster: poll the Git branch, reconcile access when the configuration changes (and on a resync schedule), publish client files; one replica at a time, elected with a Lease'
complete -c tollgate -n "__fish_tollgate_using_subcommand help; and not __fish_seen_subcommand_from validate render plan apply controller gateway session-gateway sessions connect status clients client who-can can timeline schema completions help" -f -a "gateway" -d 'Run the cluster\'s WireGuard gateway: serve the peers the controller publishes, changing only what changed'
complete -c tollgate -n "__fish_tollgate_using_subcommand help; and not __fish_seen_subcommand_from validate render plan apply controller gateway session-gateway sessions connect status clients client who-can can timeline schema completions help" -f -a "session-gateway" -d 'Run the SSH session gateway: each login (`ssh USER+ENVIRONMENT@gateway`) in a pod of its own, removed when the session ends'
complete -c tollgate -n "__fish_tollgate_using_subcommand help; and not __fish_seen_subcommand_from validate render plan apply controller gateway session-gateway sessions connect status clients client who-can can timeline schema completions help" -f -a "sessions" -d 'List the live SSH sessions: user, environment, pod, age, phase and source address'
complete -c tollgate -n "__fish_tollgate_using_subcommand help; and not __fish_seen_subcommand_from validate render plan apply controller gateway session-gateway sessions connect status clients client who-can can timeline schema completions help" -f -a "connect" -d 'Bring up a WireGuard tunnel to the cluster from a client file, and a kubeconfig; down on Ctrl-C'
complete -c tollgate -n "__fish_tollgate_using_subcommand help; and not __fish_seen_subcommand_from validate render plan apply controller gateway session-gateway sessions connect status clients client who-can can timeline schema completions help" -f -a "status" -d 'Print what the controller reports: the applied revision, when, the last plan and the last error'
complete -c tollgate -n "__fish_tollgate_using_subcommand help; and not __fish_seen_subcommand_from validate render plan apply controller gateway session-gateway sessions connect status clients client who-can can timeline schema completions help" -f -a "clients" -d 'List every client with its owners, recipients, clusters and the state of its credentials'
complete -c tollgate -n "__fish_tollgate_using_subcommand help; and not __fish_seen_subcommand_from validate render plan apply controller gateway session-gateway sessions connect status clients client who-can can timeline schema completions help" -f -a "client" -d 'Scaffold and inspect clients; turn a client file into a kubeconfig (entry) or a wg-quick configuration'
complete -c tollgate -n "__fish_tollgate_using_subcommand help; and not __fish_seen_subcommand_from validate render plan apply controller gateway session-gateway sessions connect status clients client who-can can timeline schema completions help" -f -a "who-can" -d 'List every person and client the repository lets make a request in a cluster, and through which binding'
complete -c tollgate -n "__fish_tollgate_using_subcommand help; and not __fish_seen_subcommand_from validate render plan apply controller gateway session-gateway sessions connect status clients client who-can can timeline schema completions help" -f -a "can" -d 'List everything one person or client may do in a cluster, rule by rule, where and through which binding'
complete -c tollgate -n "__fish_tollgate_using_subcommand help; and not __fish_seen_subcommand_from validate render plan apply controller gateway session-gateway sessions connect status clients client who-can can timeline schema completions help" -f -a "timeline" -d 'Show every change of one person\'s or client\'s access over the repository\'s history, with its commit'
complete -c tollgate -n "__fish_tollgate_using_subcommand help; and not __fish_seen_subcommand_from validate render plan apply controller gateway session-gateway sessions connect status clients client who-can can timeline schema completions help" -f -a "schema" -d 'Write the JSON Schema of every document kind'
complete -c tollgate -n "__fish_tollgate_using_subcommand help; and not __fish_seen_subcommand_from validate render plan apply controller gateway session-gateway sessions connect status clients client who-can can timeline schema completions help" -f -a "completions" -d 'Print a shell completion script, or write every script and the manual pages'
complete -c tollgate -n "__fish_tollgate_using_subcommand help; and not __fish_seen_subcommand_from validate render plan apply controller gateway session-gateway sessions connect status clients client who-can can timeline schema completions help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c tollgate -n "__fish_tollgate_using_subcommand help; and __fish_seen_subcommand_from client" -f -a "kubeconfig" -d 'Write a kubeconfig with the token in it (`update-kubeconfig` keeps the token off the disk)'
complete -c tollgate -n "__fish_tollgate_using_subcommand help; and __fish_seen_subcommand_from client" -f -a "wg-config" -d 'Write a wg-quick configuration for the client\'s WireGuard tunnel'
complete -c tollgate -n "__fish_tollgate_using_subcommand help; and __fish_seen_subcommand_from client" -f -a "update-kubeconfig" -d 'Add a context per client file to your kubeconfig, with no token on disk'
complete -c tollgate -n "__fish_tollgate_using_subcommand help; and __fish_seen_subcommand_from client" -f -a "new" -d 'Write new Client documents into the repository (validated with it first)'
complete -c tollgate -n "__fish_tollgate_using_subcommand help; and __fish_seen_subcommand_from client" -f -a "inspect" -d 'Show one client in full: owners, recipients, who it acts as, and the state of its credentials and why'
complete -c tollgate -n "__fish_tollgate_using_subcommand help; and __fish_seen_subcommand_from client" -f -a "get-token" -d 'Print the client\'s token as an ExecCredential for kubectl (the exec plugin `update-kubeconfig` writes)'
