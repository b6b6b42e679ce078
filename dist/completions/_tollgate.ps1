
using namespace System.Management.Automation
using namespace System.Management.Automation.Language

Register-ArgumentCompleter -Native -CommandName 'tollgate' -ScriptBlock {
    param($wordToComplete, $commandAst, $cursorPosition)

    $commandElements = $commandAst.CommandElements
    $command = @(
        'tollgate'
        for ($i = 1; $i -lt $commandElements.Count; $i++) {
            $element = $commandElements[$i]
            if ($element -isnot [StringConstantExpressionAst] -or
                $element.StringConstantType -ne [StringConstantType]::BareWord -or
                $element.Value.StartsWith('-') -or
                $element.Value -eq $wordToComplete) {
                break
        }
        $element.Value
    }) -join ';'

    $completions = @(switch ($command) {
        'tollgate' {
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('validate', 'validate', [CompletionResultType]::ParameterValue, 'Check the repository and print every problem with its file, line and field')
            [CompletionResult]::new('render', 'render', [CompletionResultType]::ParameterValue, 'Print the objects one cluster should hold, as YAML that `kubectl apply -f -` accepts')
            [CompletionResult]::new('plan', 'plan', [CompletionResultType]::ParameterValue, 'Show what would change in one cluster, per object and per person')
            [CompletionResult]::new('apply', 'apply', [CompletionResultType]::ParameterValue, 'Plan against the live cluster and apply the plan: server-side apply, then prune')
            [CompletionResult]::new('controller', 'controller', [CompletionResultType]::ParameterValue, 'Run in the cluster: poll the Git branch, reconcile access when the configuration changes (and on a resync schedule), publish client files; one replica at a time, elected with a Lease')
            [CompletionResult]::new('gateway', 'gateway', [CompletionResultType]::ParameterValue, 'Run the cluster''s WireGuard gateway: serve the peers the controller publishes, changing only what changed')
            [CompletionResult]::new('session-gateway', 'session-gateway', [CompletionResultType]::ParameterValue, 'Run the SSH session gateway: each login (`ssh USER+ENVIRONMENT@gateway`) in a pod of its own, removed when the session ends')
            [CompletionResult]::new('sessions', 'sessions', [CompletionResultType]::ParameterValue, 'List the live SSH sessions: user, environment, pod, age, phase and source address')
            [CompletionResult]::new('connect', 'connect', [CompletionResultType]::ParameterValue, 'Bring up a WireGuard tunnel to the cluster from a client file, and a kubeconfig; down on Ctrl-C')
            [CompletionResult]::new('status', 'status', [CompletionResultType]::ParameterValue, 'Print what the controller reports: the applied revision, when, the last plan and the last error')
            [CompletionResult]::new('clients', 'clients', [CompletionResultType]::ParameterValue, 'List every client with its owners, recipients, clusters and the state of its credentials')
            [CompletionResult]::new('client', 'client', [CompletionResultType]::ParameterValue, 'Scaffold and inspect clients; turn a client file into a kubeconfig (entry) or a wg-quick configuration')
            [CompletionResult]::new('who-can', 'who-can', [CompletionResultType]::ParameterValue, 'List every person and client the repository lets make a request in a cluster, and through which binding')
            [CompletionResult]::new('can', 'can', [CompletionResultType]::ParameterValue, 'List everything one person or client may do in a cluster, rule by rule, where and through which binding')
            [CompletionResult]::new('timeline', 'timeline', [CompletionResultType]::ParameterValue, 'Show every change of one person''s or client''s access over the repository''s history, with its commit')
            [CompletionResult]::new('schema', 'schema', [CompletionResultType]::ParameterValue, 'Write the JSON Schema of every document kind')
            [CompletionResult]::new('completions', 'completions', [CompletionResultType]::ParameterValue, 'Print a shell completion script, or write every script and the manual pages')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'tollgate;validate' {
            [CompletionResult]::new('--repo', '--repo', [CompletionResultType]::ParameterName, 'The access repository''s config root')
            [CompletionResult]::new('--now', '--now', [CompletionResultType]::ParameterName, 'Evaluate expiries at this RFC 3339 time instead of now (reproducible plans and tests)')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print diagnostics as JSON')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'tollgate;render' {
            [CompletionResult]::new('--repo', '--repo', [CompletionResultType]::ParameterName, 'The access repository''s config root')
            [CompletionResult]::new('--now', '--now', [CompletionResultType]::ParameterName, 'Evaluate expiries at this RFC 3339 time instead of now (reproducible plans and tests)')
            [CompletionResult]::new('--cluster', '--cluster', [CompletionResultType]::ParameterName, 'The cluster to render, as the repository''s Settings name it')
            [CompletionResult]::new('--revision', '--revision', [CompletionResultType]::ParameterName, 'Git revision to record in the objects'' annotations')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'tollgate;plan' {
            [CompletionResult]::new('--repo', '--repo', [CompletionResultType]::ParameterName, 'The access repository''s config root')
            [CompletionResult]::new('--now', '--now', [CompletionResultType]::ParameterName, 'Evaluate expiries at this RFC 3339 time instead of now (reproducible plans and tests)')
            [CompletionResult]::new('--cluster', '--cluster', [CompletionResultType]::ParameterName, 'The cluster to plan, as the repository''s Settings name it')
            [CompletionResult]::new('--live-from', '--live-from', [CompletionResultType]::ParameterName, 'Plan against the objects in this file (`kubectl get -o yaml` output, or multi-document YAML) instead of the live cluster')
            [CompletionResult]::new('--kubeconfig', '--kubeconfig', [CompletionResultType]::ParameterName, 'The kubeconfig file. Default: `KUBECONFIG`, then `~/.kube/config`, then the pod''s service account')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'The kubeconfig context. Default: its current context')
            [CompletionResult]::new('--qps', '--qps', [CompletionResultType]::ParameterName, 'Client-side rate limit: API requests per second')
            [CompletionResult]::new('--burst', '--burst', [CompletionResultType]::ParameterName, 'Client-side rate limit: requests allowed at once above `--qps` before pacing starts')
            [CompletionResult]::new('--list-page-size', '--list-page-size', [CompletionResultType]::ParameterName, 'Objects per page when reading the live state: fewer requests with larger pages, less memory with smaller ones')
            [CompletionResult]::new('--out', '--out', [CompletionResultType]::ParameterName, 'Save the plan for `tollgate apply FILE` (live plans only)')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, '`human`: Terraform-like text; `json`: the plan as data (`formatVersion: 1`); `markdown`: a merge-request comment')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'Colour the human output: `auto` on a terminal unless `NO_COLOR` is set')
            [CompletionResult]::new('--revision', '--revision', [CompletionResultType]::ParameterName, 'Git revision to record in the objects'' annotations')
            [CompletionResult]::new('--offline', '--offline', [CompletionResultType]::ParameterName, 'Plan against an empty cluster instead of the live one')
            [CompletionResult]::new('--detailed-exitcode', '--detailed-exitcode', [CompletionResultType]::ParameterName, 'Exit 2 when the plan has changes, 0 when it has none, 1 on error (as Terraform''s flag); 3 when its changes give someone power over other people''s access or data (its "needs a second look" section)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'tollgate;apply' {
            [CompletionResult]::new('--repo', '--repo', [CompletionResultType]::ParameterName, 'The access repository''s config root')
            [CompletionResult]::new('--now', '--now', [CompletionResultType]::ParameterName, 'Evaluate expiries at this RFC 3339 time instead of now (reproducible plans and tests)')
            [CompletionResult]::new('--cluster', '--cluster', [CompletionResultType]::ParameterName, 'The cluster to apply to, as the repository''s Settings name it')
            [CompletionResult]::new('--kubeconfig', '--kubeconfig', [CompletionResultType]::ParameterName, 'The kubeconfig file. Default: `KUBECONFIG`, then `~/.kube/config`, then the pod''s service account')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'The kubeconfig context. Default: its current context')
            [CompletionResult]::new('--qps', '--qps', [CompletionResultType]::ParameterName, 'Client-side rate limit: API requests per second')
            [CompletionResult]::new('--burst', '--burst', [CompletionResultType]::ParameterName, 'Client-side rate limit: requests allowed at once above `--qps` before pacing starts')
            [CompletionResult]::new('--list-page-size', '--list-page-size', [CompletionResultType]::ParameterName, 'Objects per page when reading the live state: fewer requests with larger pages, less memory with smaller ones')
            [CompletionResult]::new('--concurrency', '--concurrency', [CompletionResultType]::ParameterName, 'API requests in flight at once')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, '`human` prints the plan and the outcome of each object; `json` prints only the apply report')
            [CompletionResult]::new('--report', '--report', [CompletionResultType]::ParameterName, 'Also write the apply report as JSON to this file')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'Colour the human output: `auto` on a terminal unless `NO_COLOR` is set')
            [CompletionResult]::new('--revision', '--revision', [CompletionResultType]::ParameterName, 'Git revision to record in the objects'' annotations (default with --git: the fetched commit)')
            [CompletionResult]::new('--git', '--git', [CompletionResultType]::ParameterName, 'Read the configuration from this remote''s branch head instead of --repo (fetched with gix into a local bare cache; no working tree). HTTP(S), SSH, git:// and file URLs')
            [CompletionResult]::new('--branch', '--branch', [CompletionResultType]::ParameterName, 'The branch to read (and to push client files to)')
            [CompletionResult]::new('--git-cache', '--git-cache', [CompletionResultType]::ParameterName, 'The bare cache repository. Default: a folder per URL and branch under ~/.cache/tollgate/git')
            [CompletionResult]::new('--git-token-file', '--git-token-file', [CompletionResultType]::ParameterName, 'HTTP(S): a file holding the token to authenticate with (read when Git asks, never logged)')
            [CompletionResult]::new('--git-username', '--git-username', [CompletionResultType]::ParameterName, 'HTTP(S): the username sent with --git-token-file')
            [CompletionResult]::new('--git-ssh-key', '--git-ssh-key', [CompletionResultType]::ParameterName, 'SSH: the private key file to authenticate with')
            [CompletionResult]::new('--git-known-hosts', '--git-known-hosts', [CompletionResultType]::ParameterName, 'SSH: the server''s host keys (`known_hosts` format), checked strictly. Default: ssh''s own known hosts')
            [CompletionResult]::new('--author', '--author', [CompletionResultType]::ParameterName, 'The author and committer of published client files, as `Name <email>`')
            [CompletionResult]::new('--namespace', '--namespace', [CompletionResultType]::ParameterName, 'The controller''s namespace, where the record of what was applied (and who may sign next) is kept')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Apply without asking; required when standard input is not a terminal')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Apply without asking; required when standard input is not a terminal')
            [CompletionResult]::new('--adopt', '--adopt', [CompletionResultType]::ParameterName, 'Take over same-named objects that exist without tollgate''s labels instead of refusing')
            [CompletionResult]::new('--allow-mass-deletion', '--allow-mass-deletion', [CompletionResultType]::ParameterName, 'Apply even when the plan deletes more than the deletion guard allows')
            [CompletionResult]::new('--allow-namespace-deletion', '--allow-namespace-deletion', [CompletionResultType]::ParameterName, 'Delete Namespaces tollgate created that the repository no longer has (with every object in them)')
            [CompletionResult]::new('--publish', '--publish', [CompletionResultType]::ParameterName, 'After a successful apply, issue the clients'' credentials and publish their files (encrypted to their recipients) to the --git repository, in one commit that touches only the artifacts path')
            [CompletionResult]::new('--allow-rewritten-history', '--allow-rewritten-history', [CompletionResultType]::ParameterName, 'Apply a --git head that no longer contains the last revision applied with a verified signature (after a force push); only after checking it, since replaying an old signed commit undoes later ones')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'tollgate;controller' {
            [CompletionResult]::new('--cluster', '--cluster', [CompletionResultType]::ParameterName, 'The cluster this controller reconciles, as the repository''s Settings name it')
            [CompletionResult]::new('--git', '--git', [CompletionResultType]::ParameterName, 'Read the configuration from this remote''s branch head instead of --repo (fetched with gix into a local bare cache; no working tree). HTTP(S), SSH, git:// and file URLs')
            [CompletionResult]::new('--branch', '--branch', [CompletionResultType]::ParameterName, 'The branch to read (and to push client files to)')
            [CompletionResult]::new('--git-cache', '--git-cache', [CompletionResultType]::ParameterName, 'The bare cache repository. Default: a folder per URL and branch under ~/.cache/tollgate/git')
            [CompletionResult]::new('--git-token-file', '--git-token-file', [CompletionResultType]::ParameterName, 'HTTP(S): a file holding the token to authenticate with (read when Git asks, never logged)')
            [CompletionResult]::new('--git-username', '--git-username', [CompletionResultType]::ParameterName, 'HTTP(S): the username sent with --git-token-file')
            [CompletionResult]::new('--git-ssh-key', '--git-ssh-key', [CompletionResultType]::ParameterName, 'SSH: the private key file to authenticate with')
            [CompletionResult]::new('--git-known-hosts', '--git-known-hosts', [CompletionResultType]::ParameterName, 'SSH: the server''s host keys (`known_hosts` format), checked strictly. Default: ssh''s own known hosts')
            [CompletionResult]::new('--author', '--author', [CompletionResultType]::ParameterName, 'The author and committer of published client files, as `Name <email>`')
            [CompletionResult]::new('--kubeconfig', '--kubeconfig', [CompletionResultType]::ParameterName, 'The kubeconfig file. Default: `KUBECONFIG`, then `~/.kube/config`, then the pod''s service account')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'The kubeconfig context. Default: its current context')
            [CompletionResult]::new('--qps', '--qps', [CompletionResultType]::ParameterName, 'Client-side rate limit: API requests per second')
            [CompletionResult]::new('--burst', '--burst', [CompletionResultType]::ParameterName, 'Client-side rate limit: requests allowed at once above `--qps` before pacing starts')
            [CompletionResult]::new('--list-page-size', '--list-page-size', [CompletionResultType]::ParameterName, 'Objects per page when reading the live state: fewer requests with larger pages, less memory with smaller ones')
            [CompletionResult]::new('--interval', '--interval', [CompletionResultType]::ParameterName, 'How often to ask Git for the branch head (advertised refs only; nothing is fetched unless it moved)')
            [CompletionResult]::new('--resync', '--resync', [CompletionResultType]::ParameterName, 'When to reconcile even if Git did not move: repairs drift, renews tokens, enforces expiries and sunsets on time. A cron expression with seconds: `sec min hour day-of-month month day-of-week`')
            [CompletionResult]::new('--namespace', '--namespace', [CompletionResultType]::ParameterName, 'The controller''s namespace: its Lease, its status ConfigMap and its Events')
            [CompletionResult]::new('--identity', '--identity', [CompletionResultType]::ParameterName, 'This replica''s name in the Lease')
            [CompletionResult]::new('--lease-name', '--lease-name', [CompletionResultType]::ParameterName, 'The Lease replicas elect a leader with, in `--namespace`')
            [CompletionResult]::new('--lease-duration', '--lease-duration', [CompletionResultType]::ParameterName, 'How long the lease holds without renewal; a standby takes over after this long')
            [CompletionResult]::new('--listen', '--listen', [CompletionResultType]::ParameterName, 'Where /healthz, /readyz and /metrics are served')
            [CompletionResult]::new('--concurrency', '--concurrency', [CompletionResultType]::ParameterName, 'API requests in flight at once during an apply')
            [CompletionResult]::new('--webhook-listen', '--webhook-listen', [CompletionResultType]::ParameterName, 'Also receive push webhooks (GitHub, GitLab, Gitea/Forgejo) on this address at `POST /webhook`: a verified push to the branch makes the controller poll at once')
            [CompletionResult]::new('--webhook-secret-file', '--webhook-secret-file', [CompletionResultType]::ParameterName, 'The webhook''s shared secret (GitHub/Gitea: the HMAC key; GitLab: the token), read from this file')
            [CompletionResult]::new('--no-leader-election', '--no-leader-election', [CompletionResultType]::ParameterName, 'Run without leader election (exactly one replica)')
            [CompletionResult]::new('--no-publish', '--no-publish', [CompletionResultType]::ParameterName, 'Apply only; do not issue credentials or publish client files')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'tollgate;gateway' {
            [CompletionResult]::new('--kubeconfig', '--kubeconfig', [CompletionResultType]::ParameterName, 'The kubeconfig file. Default: `KUBECONFIG`, then `~/.kube/config`, then the pod''s service account')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'The kubeconfig context. Default: its current context')
            [CompletionResult]::new('--qps', '--qps', [CompletionResultType]::ParameterName, 'Client-side rate limit: API requests per second')
            [CompletionResult]::new('--burst', '--burst', [CompletionResultType]::ParameterName, 'Client-side rate limit: requests allowed at once above `--qps` before pacing starts')
            [CompletionResult]::new('--list-page-size', '--list-page-size', [CompletionResultType]::ParameterName, 'Objects per page when reading the live state: fewer requests with larger pages, less memory with smaller ones')
            [CompletionResult]::new('--namespace', '--namespace', [CompletionResultType]::ParameterName, 'The gateway''s own (the controller''s) namespace, where it writes its status (ConfigMap tollgate-gateway-status) for `tollgate status`')
            [CompletionResult]::new('--clients-namespace', '--clients-namespace', [CompletionResultType]::ParameterName, 'Settings'' clientsNamespace: where the controller publishes the peer list (ConfigMap tollgate-peers) and the gateway''s key (Secret tollgate-gateway)')
            [CompletionResult]::new('--interface', '--interface', [CompletionResultType]::ParameterName, 'The WireGuard interface to create (at most 15 characters, unique on the host)')
            [CompletionResult]::new('--listen-port', '--listen-port', [CompletionResultType]::ParameterName, 'The UDP port WireGuard listens on (the gateway Service''s target port)')
            [CompletionResult]::new('--threads', '--threads', [CompletionResultType]::ParameterName, 'boringtun worker threads')
            [CompletionResult]::new('--interval', '--interval', [CompletionResultType]::ParameterName, 'How often the peer list is read and the device compared with it')
            [CompletionResult]::new('--addresses-interval', '--addresses-interval', [CompletionResultType]::ParameterName, 'How often the Service and Pod addresses of namespaces are read, when a client is bound to namespaces (a new Pod is reachable after at most this long)')
            [CompletionResult]::new('--listen', '--listen', [CompletionResultType]::ParameterName, 'Where /healthz, /readyz and /metrics are served')
            [CompletionResult]::new('--no-forward', '--no-forward', [CompletionResultType]::ParameterName, 'Do not turn on IP forwarding (it is on already: an init container or the pod''s sysctls). The filter that keeps clients to their grants is installed either way')
            [CompletionResult]::new('--no-masquerade', '--no-masquerade', [CompletionResultType]::ParameterName, 'Do not masquerade clients'' packets (the cluster network then needs a route back to the client pool)')
            [CompletionResult]::new('--enable-forwarding-only', '--enable-forwarding-only', [CompletionResultType]::ParameterName, 'Only turn on IP forwarding in this network namespace, then exit (the gateway pod''s privileged init container; the gateway itself needs NET_ADMIN only)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'tollgate;session-gateway' {
            [CompletionResult]::new('--kubeconfig', '--kubeconfig', [CompletionResultType]::ParameterName, 'The kubeconfig file. Default: `KUBECONFIG`, then `~/.kube/config`, then the pod''s service account')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'The kubeconfig context. Default: its current context')
            [CompletionResult]::new('--qps', '--qps', [CompletionResultType]::ParameterName, 'Client-side rate limit: API requests per second')
            [CompletionResult]::new('--burst', '--burst', [CompletionResultType]::ParameterName, 'Client-side rate limit: requests allowed at once above `--qps` before pacing starts')
            [CompletionResult]::new('--list-page-size', '--list-page-size', [CompletionResultType]::ParameterName, 'Objects per page when reading the live state: fewer requests with larger pages, less memory with smaller ones')
            [CompletionResult]::new('--namespace', '--namespace', [CompletionResultType]::ParameterName, 'The gateway''s own (the controller''s) namespace, where its host key is kept (Secret tollgate-session-gateway, generated by the first start)')
            [CompletionResult]::new('--clients-namespace', '--clients-namespace', [CompletionResultType]::ParameterName, 'Settings'' clientsNamespace: where the controller publishes the session directory (ConfigMap tollgate-sessions) and the gateway its status (ConfigMap tollgate-session-gateway-status)')
            [CompletionResult]::new('--advertise', '--advertise', [CompletionResultType]::ParameterName, 'Where people reach the gateway, HOST or HOST:PORT as they type it (e.g. sessions.example.com:2222): the controller publishes the host key''s known_hosts line for it in the repository (<artifactsPath>/<cluster>/known_hosts)')
            [CompletionResult]::new('--listen', '--listen', [CompletionResultType]::ParameterName, 'Where the SSH server listens')
            [CompletionResult]::new('--refresh-interval', '--refresh-interval', [CompletionResultType]::ParameterName, 'How often the session directory is read again (users'' keys and environments follow the repository), and at most how often the status (live sessions, their last input for idle times) is written')
            [CompletionResult]::new('--reap-interval', '--reap-interval', [CompletionResultType]::ParameterName, 'How often session pods that no live session holds are looked for and removed')
            [CompletionResult]::new('--login-grace-time', '--login-grace-time', [CompletionResultType]::ParameterName, 'How long a connection may take to authenticate before it is closed (OpenSSH''s LoginGraceTime)')
            [CompletionResult]::new('--max-unauthenticated', '--max-unauthenticated', [CompletionResultType]::ParameterName, 'At most this many connections may be unauthenticated at once; more are closed at once (OpenSSH''s MaxStartups)')
            [CompletionResult]::new('--max-sessions-per-connection', '--max-sessions-per-connection', [CompletionResultType]::ParameterName, 'At most this many sessions (each a pod) at once on one connection (OpenSSH''s MaxSessions)')
            [CompletionResult]::new('--max-sessions-per-user', '--max-sessions-per-user', [CompletionResultType]::ParameterName, 'At most this many sessions (each a pod) at once for one user, over all their connections')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'tollgate;sessions' {
            [CompletionResult]::new('--kubeconfig', '--kubeconfig', [CompletionResultType]::ParameterName, 'The kubeconfig file. Default: `KUBECONFIG`, then `~/.kube/config`, then the pod''s service account')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'The kubeconfig context. Default: its current context')
            [CompletionResult]::new('--qps', '--qps', [CompletionResultType]::ParameterName, 'Client-side rate limit: API requests per second')
            [CompletionResult]::new('--burst', '--burst', [CompletionResultType]::ParameterName, 'Client-side rate limit: requests allowed at once above `--qps` before pacing starts')
            [CompletionResult]::new('--list-page-size', '--list-page-size', [CompletionResultType]::ParameterName, 'Objects per page when reading the live state: fewer requests with larger pages, less memory with smaller ones')
            [CompletionResult]::new('--clients-namespace', '--clients-namespace', [CompletionResultType]::ParameterName, 'Settings'' clientsNamespace: where the session gateway reports when each session last had input')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print JSON instead of a table')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'tollgate;connect' {
            [CompletionResult]::new('-i', '-i', [CompletionResultType]::ParameterName, 'An identity file to decrypt with, as `age -d -i`. Repeatable')
            [CompletionResult]::new('--identity', '--identity', [CompletionResultType]::ParameterName, 'An identity file to decrypt with, as `age -d -i`. Repeatable')
            [CompletionResult]::new('--interface', '--interface', [CompletionResultType]::ParameterName, 'The WireGuard interface to create (at most 15 characters; one per tunnel on this machine)')
            [CompletionResult]::new('--kubeconfig', '--kubeconfig', [CompletionResultType]::ParameterName, 'Also merge the client''s context into this kubeconfig (as `client update-kubeconfig --use-context`)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'tollgate;status' {
            [CompletionResult]::new('--namespace', '--namespace', [CompletionResultType]::ParameterName, 'The controller''s namespace')
            [CompletionResult]::new('--clients-namespace', '--clients-namespace', [CompletionResultType]::ParameterName, 'Settings'' clientsNamespace: where the session gateway reports its host key and live sessions')
            [CompletionResult]::new('--kubeconfig', '--kubeconfig', [CompletionResultType]::ParameterName, 'The kubeconfig file. Default: `KUBECONFIG`, then `~/.kube/config`, then the pod''s service account')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'The kubeconfig context. Default: its current context')
            [CompletionResult]::new('--qps', '--qps', [CompletionResultType]::ParameterName, 'Client-side rate limit: API requests per second')
            [CompletionResult]::new('--burst', '--burst', [CompletionResultType]::ParameterName, 'Client-side rate limit: requests allowed at once above `--qps` before pacing starts')
            [CompletionResult]::new('--list-page-size', '--list-page-size', [CompletionResultType]::ParameterName, 'Objects per page when reading the live state: fewer requests with larger pages, less memory with smaller ones')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print the status as JSON')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'tollgate;clients' {
            [CompletionResult]::new('--repo', '--repo', [CompletionResultType]::ParameterName, 'The access repository''s config root')
            [CompletionResult]::new('--now', '--now', [CompletionResultType]::ParameterName, 'Evaluate expiries at this RFC 3339 time instead of now (reproducible plans and tests)')
            [CompletionResult]::new('--cluster', '--cluster', [CompletionResultType]::ParameterName, 'Only this Settings cluster; it is also the cluster the kubeconfig reaches (default: the Settings cluster whose `apiServer` is the kubeconfig''s server)')
            [CompletionResult]::new('--kubeconfig', '--kubeconfig', [CompletionResultType]::ParameterName, 'The kubeconfig file. Default: `KUBECONFIG`, then `~/.kube/config`, then the pod''s service account')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'The kubeconfig context. Default: its current context')
            [CompletionResult]::new('--qps', '--qps', [CompletionResultType]::ParameterName, 'Client-side rate limit: API requests per second')
            [CompletionResult]::new('--burst', '--burst', [CompletionResultType]::ParameterName, 'Client-side rate limit: requests allowed at once above `--qps` before pacing starts')
            [CompletionResult]::new('--list-page-size', '--list-page-size', [CompletionResultType]::ParameterName, 'Objects per page when reading the live state: fewer requests with larger pages, less memory with smaller ones')
            [CompletionResult]::new('--offline', '--offline', [CompletionResultType]::ParameterName, 'Do not read the cluster: show what the repository says')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print the clients as JSON')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'tollgate;client' {
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('kubeconfig', 'kubeconfig', [CompletionResultType]::ParameterValue, 'Write a kubeconfig with the token in it (`update-kubeconfig` keeps the token off the disk)')
            [CompletionResult]::new('wg-config', 'wg-config', [CompletionResultType]::ParameterValue, 'Write a wg-quick configuration for the client''s WireGuard tunnel')
            [CompletionResult]::new('update-kubeconfig', 'update-kubeconfig', [CompletionResultType]::ParameterValue, 'Add a context per client file to your kubeconfig, with no token on disk')
            [CompletionResult]::new('new', 'new', [CompletionResultType]::ParameterValue, 'Write new Client documents into the repository (validated with it first)')
            [CompletionResult]::new('inspect', 'inspect', [CompletionResultType]::ParameterValue, 'Show one client in full: owners, recipients, who it acts as, and the state of its credentials and why')
            [CompletionResult]::new('get-token', 'get-token', [CompletionResultType]::ParameterValue, 'Print the client''s token as an ExecCredential for kubectl (the exec plugin `update-kubeconfig` writes)')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'tollgate;client;kubeconfig' {
            [CompletionResult]::new('-i', '-i', [CompletionResultType]::ParameterName, 'An identity file to decrypt with, as `age -d -i`: age keys (optionally `age -p` encrypted) or an SSH private key (a passphrase is asked for on the terminal). Repeatable')
            [CompletionResult]::new('--identity', '--identity', [CompletionResultType]::ParameterName, 'An identity file to decrypt with, as `age -d -i`: age keys (optionally `age -p` encrypted) or an SSH private key (a passphrase is asked for on the terminal). Repeatable')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Write here (created with mode 0600) instead of standard output')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Write here (created with mode 0600) instead of standard output')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'tollgate;client;wg-config' {
            [CompletionResult]::new('-i', '-i', [CompletionResultType]::ParameterName, 'An identity file to decrypt with, as `age -d -i`: age keys (optionally `age -p` encrypted) or an SSH private key (a passphrase is asked for on the terminal). Repeatable')
            [CompletionResult]::new('--identity', '--identity', [CompletionResultType]::ParameterName, 'An identity file to decrypt with, as `age -d -i`: age keys (optionally `age -p` encrypted) or an SSH private key (a passphrase is asked for on the terminal). Repeatable')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Write here (created with mode 0600) instead of standard output')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Write here (created with mode 0600) instead of standard output')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'tollgate;client;update-kubeconfig' {
            [CompletionResult]::new('-i', '-i', [CompletionResultType]::ParameterName, 'An identity file to decrypt with, as `age -d -i`: age keys (optionally `age -p` encrypted) or an SSH private key (a passphrase is asked for on the terminal). Repeatable')
            [CompletionResult]::new('--identity', '--identity', [CompletionResultType]::ParameterName, 'An identity file to decrypt with, as `age -d -i`: age keys (optionally `age -p` encrypted) or an SSH private key (a passphrase is asked for on the terminal). Repeatable')
            [CompletionResult]::new('--kubeconfig', '--kubeconfig', [CompletionResultType]::ParameterName, 'The kubeconfig to update. Default: the first file of `KUBECONFIG`, then `~/.kube/config`')
            [CompletionResult]::new('--context-name', '--context-name', [CompletionResultType]::ParameterName, 'The context''s name instead of `<cluster>/<client>` (one client file only)')
            [CompletionResult]::new('--server', '--server', [CompletionResultType]::ParameterName, 'The API server URL instead of the one in the client file (e.g. a tunnel or a private endpoint)')
            [CompletionResult]::new('--use-context', '--use-context', [CompletionResultType]::ParameterName, 'Make the (first file''s) context the current context')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'tollgate;client;new' {
            [CompletionResult]::new('--owner', '--owner', [CompletionResultType]::ParameterName, 'A user who owns the client: their keys open its file and their `accessAs: client` grants land on it. Repeatable')
            [CompletionResult]::new('--cluster', '--cluster', [CompletionResultType]::ParameterName, 'A cluster the client gets credentials for. Repeatable. Default: every cluster of the Settings document')
            [CompletionResult]::new('--count', '--count', [CompletionResultType]::ParameterName, 'Make this many clients, named `<name>-1`, `<name>-2`, ... (skipping names that are taken)')
            [CompletionResult]::new('--default-namespace', '--default-namespace', [CompletionResultType]::ParameterName, 'The namespace of the client''s kubeconfig context')
            [CompletionResult]::new('--repo', '--repo', [CompletionResultType]::ParameterName, 'The access repository''s config root')
            [CompletionResult]::new('--now', '--now', [CompletionResultType]::ParameterName, 'Evaluate expiries at this RFC 3339 time instead of now (reproducible plans and tests)')
            [CompletionResult]::new('--no-vpn', '--no-vpn', [CompletionResultType]::ParameterName, 'No WireGuard key and address range (the default when a cluster has no `gateway` and `clientPool`)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'tollgate;client;inspect' {
            [CompletionResult]::new('--repo', '--repo', [CompletionResultType]::ParameterName, 'The access repository''s config root')
            [CompletionResult]::new('--now', '--now', [CompletionResultType]::ParameterName, 'Evaluate expiries at this RFC 3339 time instead of now (reproducible plans and tests)')
            [CompletionResult]::new('--cluster', '--cluster', [CompletionResultType]::ParameterName, 'Only this Settings cluster; it is also the cluster the kubeconfig reaches (default: the Settings cluster whose `apiServer` is the kubeconfig''s server)')
            [CompletionResult]::new('--kubeconfig', '--kubeconfig', [CompletionResultType]::ParameterName, 'The kubeconfig file. Default: `KUBECONFIG`, then `~/.kube/config`, then the pod''s service account')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'The kubeconfig context. Default: its current context')
            [CompletionResult]::new('--qps', '--qps', [CompletionResultType]::ParameterName, 'Client-side rate limit: API requests per second')
            [CompletionResult]::new('--burst', '--burst', [CompletionResultType]::ParameterName, 'Client-side rate limit: requests allowed at once above `--qps` before pacing starts')
            [CompletionResult]::new('--list-page-size', '--list-page-size', [CompletionResultType]::ParameterName, 'Objects per page when reading the live state: fewer requests with larger pages, less memory with smaller ones')
            [CompletionResult]::new('--offline', '--offline', [CompletionResultType]::ParameterName, 'Do not read the cluster: show what the repository says')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print the client as JSON')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'tollgate;client;get-token' {
            [CompletionResult]::new('-i', '-i', [CompletionResultType]::ParameterName, 'An identity file to decrypt with, as for `update-kubeconfig`. Repeatable')
            [CompletionResult]::new('--identity', '--identity', [CompletionResultType]::ParameterName, 'An identity file to decrypt with, as for `update-kubeconfig`. Repeatable')
            [CompletionResult]::new('--as', '--as', [CompletionResultType]::ParameterName, 'The user the kubeconfig acts as (its `as`): the command fails if the client file now says otherwise')
            [CompletionResult]::new('--as-group', '--as-group', [CompletionResultType]::ParameterName, 'A group the kubeconfig acts as (its `as-groups`); repeatable')
            [CompletionResult]::new('--as-client', '--as-client', [CompletionResultType]::ParameterName, 'The kubeconfig entry is the client as itself (`<name>/as-client`): whom the client file acts as is not checked')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'tollgate;client;help' {
            [CompletionResult]::new('kubeconfig', 'kubeconfig', [CompletionResultType]::ParameterValue, 'Write a kubeconfig with the token in it (`update-kubeconfig` keeps the token off the disk)')
            [CompletionResult]::new('wg-config', 'wg-config', [CompletionResultType]::ParameterValue, 'Write a wg-quick configuration for the client''s WireGuard tunnel')
            [CompletionResult]::new('update-kubeconfig', 'update-kubeconfig', [CompletionResultType]::ParameterValue, 'Add a context per client file to your kubeconfig, with no token on disk')
            [CompletionResult]::new('new', 'new', [CompletionResultType]::ParameterValue, 'Write new Client documents into the repository (validated with it first)')
            [CompletionResult]::new('inspect', 'inspect', [CompletionResultType]::ParameterValue, 'Show one client in full: owners, recipients, who it acts as, and the state of its credentials and why')
            [CompletionResult]::new('get-token', 'get-token', [CompletionResultType]::ParameterValue, 'Print the client''s token as an ExecCredential for kubectl (the exec plugin `update-kubeconfig` writes)')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'tollgate;client;help;kubeconfig' {
            break
        }
        'tollgate;client;help;wg-config' {
            break
        }
        'tollgate;client;help;update-kubeconfig' {
            break
        }
        'tollgate;client;help;new' {
            break
        }
        'tollgate;client;help;inspect' {
            break
        }
        'tollgate;client;help;get-token' {
            break
        }
        'tollgate;client;help;help' {
            break
        }
        'tollgate;who-can' {
            [CompletionResult]::new('-n', '-n', [CompletionResultType]::ParameterName, 'The namespace; without it, the question is cluster-wide (only ClusterRoleBindings answer)')
            [CompletionResult]::new('--namespace', '--namespace', [CompletionResultType]::ParameterName, 'The namespace; without it, the question is cluster-wide (only ClusterRoleBindings answer)')
            [CompletionResult]::new('--repo', '--repo', [CompletionResultType]::ParameterName, 'The access repository''s config root')
            [CompletionResult]::new('--now', '--now', [CompletionResultType]::ParameterName, 'Evaluate expiries at this RFC 3339 time instead of now (reproducible plans and tests)')
            [CompletionResult]::new('--cluster', '--cluster', [CompletionResultType]::ParameterName, 'The cluster, as the repository''s Settings name it')
            [CompletionResult]::new('--roles-from', '--roles-from', [CompletionResultType]::ParameterName, 'Read the ClusterRoles the repository does not define from this file (`kubectl get clusterroles -o yaml`)')
            [CompletionResult]::new('--kubeconfig', '--kubeconfig', [CompletionResultType]::ParameterName, 'The kubeconfig file. Default: `KUBECONFIG`, then `~/.kube/config`, then the pod''s service account')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'The kubeconfig context. Default: its current context')
            [CompletionResult]::new('--qps', '--qps', [CompletionResultType]::ParameterName, 'Client-side rate limit: API requests per second')
            [CompletionResult]::new('--burst', '--burst', [CompletionResultType]::ParameterName, 'Client-side rate limit: requests allowed at once above `--qps` before pacing starts')
            [CompletionResult]::new('--list-page-size', '--list-page-size', [CompletionResultType]::ParameterName, 'Objects per page when reading the live state: fewer requests with larger pages, less memory with smaller ones')
            [CompletionResult]::new('--at', '--at', [CompletionResultType]::ParameterName, 'Answer as the repository stood at a commit (`HEAD~3`, a commit id, a tag) or a date of its first-parent history (`2026-11-30`: the end of that day, UTC; or RFC 3339), expiries evaluated at that instant; a commit that did not validate was never applied, so the one before it answers. Only the repository''s roles and bindings (and Kubernetes'' default ClusterRoles) answer: the cluster is not read')
            [CompletionResult]::new('--limit', '--limit', [CompletionResultType]::ParameterName, 'With --since: read at most this many commits back')
            [CompletionResult]::new('--offline', '--offline', [CompletionResultType]::ParameterName, 'Do not read the cluster''s roles and bindings')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print the answer as JSON')
            [CompletionResult]::new('--since', '--since', [CompletionResultType]::ParameterName, 'Also say since which commit each answer holds: walking the first-parent history back while the same subject may through the same binding (the repository''s bindings only; commits that did not validate are passed over)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'tollgate;can' {
            [CompletionResult]::new('--repo', '--repo', [CompletionResultType]::ParameterName, 'The access repository''s config root')
            [CompletionResult]::new('--now', '--now', [CompletionResultType]::ParameterName, 'Evaluate expiries at this RFC 3339 time instead of now (reproducible plans and tests)')
            [CompletionResult]::new('--cluster', '--cluster', [CompletionResultType]::ParameterName, 'The cluster, as the repository''s Settings name it')
            [CompletionResult]::new('--roles-from', '--roles-from', [CompletionResultType]::ParameterName, 'Read the ClusterRoles the repository does not define from this file (`kubectl get clusterroles -o yaml`)')
            [CompletionResult]::new('--kubeconfig', '--kubeconfig', [CompletionResultType]::ParameterName, 'The kubeconfig file. Default: `KUBECONFIG`, then `~/.kube/config`, then the pod''s service account')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'The kubeconfig context. Default: its current context')
            [CompletionResult]::new('--qps', '--qps', [CompletionResultType]::ParameterName, 'Client-side rate limit: API requests per second')
            [CompletionResult]::new('--burst', '--burst', [CompletionResultType]::ParameterName, 'Client-side rate limit: requests allowed at once above `--qps` before pacing starts')
            [CompletionResult]::new('--list-page-size', '--list-page-size', [CompletionResultType]::ParameterName, 'Objects per page when reading the live state: fewer requests with larger pages, less memory with smaller ones')
            [CompletionResult]::new('--at', '--at', [CompletionResultType]::ParameterName, 'Answer as the repository stood at a commit (`HEAD~3`, a commit id, a tag) or a date of its first-parent history (`2026-11-30`: the end of that day, UTC; or RFC 3339), expiries evaluated at that instant; a commit that did not validate was never applied, so the one before it answers. Only the repository''s roles and bindings (and Kubernetes'' default ClusterRoles) answer: the cluster is not read')
            [CompletionResult]::new('--offline', '--offline', [CompletionResultType]::ParameterName, 'Do not read the cluster''s roles and bindings')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print the answer as JSON')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'tollgate;timeline' {
            [CompletionResult]::new('--repo', '--repo', [CompletionResultType]::ParameterName, 'The access repository''s config root')
            [CompletionResult]::new('--now', '--now', [CompletionResultType]::ParameterName, 'Evaluate expiries at this RFC 3339 time instead of now (reproducible plans and tests)')
            [CompletionResult]::new('--cluster', '--cluster', [CompletionResultType]::ParameterName, 'The cluster, as the repository''s Settings name it')
            [CompletionResult]::new('--limit', '--limit', [CompletionResultType]::ParameterName, 'Read at most this many commits back from HEAD')
            [CompletionResult]::new('--namespace', '--namespace', [CompletionResultType]::ParameterName, 'With --applied: the controller''s namespace, which holds the record')
            [CompletionResult]::new('--kubeconfig', '--kubeconfig', [CompletionResultType]::ParameterName, 'The kubeconfig file. Default: `KUBECONFIG`, then `~/.kube/config`, then the pod''s service account')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'The kubeconfig context. Default: its current context')
            [CompletionResult]::new('--qps', '--qps', [CompletionResultType]::ParameterName, 'Client-side rate limit: API requests per second')
            [CompletionResult]::new('--burst', '--burst', [CompletionResultType]::ParameterName, 'Client-side rate limit: requests allowed at once above `--qps` before pacing starts')
            [CompletionResult]::new('--list-page-size', '--list-page-size', [CompletionResultType]::ParameterName, 'Objects per page when reading the live state: fewer requests with larger pages, less memory with smaller ones')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print the timeline as JSON')
            [CompletionResult]::new('--applied', '--applied', [CompletionResultType]::ParameterName, 'Also read the cluster''s record of what was applied (ConfigMap `tollgate-applied`, written by the controller and `tollgate apply`) and say when each change was first applied, or that it was not')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'tollgate;schema' {
            [CompletionResult]::new('--out', '--out', [CompletionResultType]::ParameterName, 'The folder to write `<kind>.json` files to')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'tollgate;completions' {
            [CompletionResult]::new('--out', '--out', [CompletionResultType]::ParameterName, 'Write every shell''s completion script to DIR/completions and the manual pages to DIR/man')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'tollgate;help' {
            [CompletionResult]::new('validate', 'validate', [CompletionResultType]::ParameterValue, 'Check the repository and print every problem with its file, line and field')
            [CompletionResult]::new('render', 'render', [CompletionResultType]::ParameterValue, 'Print the objects one cluster should hold, as YAML that `kubectl apply -f -` accepts')
            [CompletionResult]::new('plan', 'plan', [CompletionResultType]::ParameterValue, 'Show what would change in one cluster, per object and per person')
            [CompletionResult]::new('apply', 'apply', [CompletionResultType]::ParameterValue, 'Plan against the live cluster and apply the plan: server-side apply, then prune')
            [CompletionResult]::new('controller', 'controller', [CompletionResultType]::ParameterValue, 'Run in the cluster: poll the Git branch, reconcile access when the configuration changes (and on a resync schedule), publish client files; one replica at a time, elected with a Lease')
            [CompletionResult]::new('gateway', 'gateway', [CompletionResultType]::ParameterValue, 'Run the cluster''s WireGuard gateway: serve the peers the controller publishes, changing only what changed')
            [CompletionResult]::new('session-gateway', 'session-gateway', [CompletionResultType]::ParameterValue, 'Run the SSH session gateway: each login (`ssh USER+ENVIRONMENT@gateway`) in a pod of its own, removed when the session ends')
            [CompletionResult]::new('sessions', 'sessions', [CompletionResultType]::ParameterValue, 'List the live SSH sessions: user, environment, pod, age, phase and source address')
            [CompletionResult]::new('connect', 'connect', [CompletionResultType]::ParameterValue, 'Bring up a WireGuard tunnel to the cluster from a client file, and a kubeconfig; down on Ctrl-C')
            [CompletionResult]::new('status', 'status', [CompletionResultType]::ParameterValue, 'Print what the controller reports: the applied revision, when, the last plan and the last error')
            [CompletionResult]::new('clients', 'clients', [CompletionResultType]::ParameterValue, 'List every client with its owners, recipients, clusters and the state of its credentials')
            [CompletionResult]::new('client', 'client', [CompletionResultType]::ParameterValue, 'Scaffold and inspect clients; turn a client file into a kubeconfig (entry) or a wg-quick configuration')
            [CompletionResult]::new('who-can', 'who-can', [CompletionResultType]::ParameterValue, 'List every person and client the repository lets make a request in a cluster, and through which binding')
            [CompletionResult]::new('can', 'can', [CompletionResultType]::ParameterValue, 'List everything one person or client may do in a cluster, rule by rule, where and through which binding')
            [CompletionResult]::new('timeline', 'timeline', [CompletionResultType]::ParameterValue, 'Show every change of one person''s or client''s access over the repository''s history, with its commit')
            [CompletionResult]::new('schema', 'schema', [CompletionResultType]::ParameterValue, 'Write the JSON Schema of every document kind')
            [CompletionResult]::new('completions', 'completions', [CompletionResultType]::ParameterValue, 'Print a shell completion script, or write every script and the manual pages')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'tollgate;help;validate' {
            break
        }
        'tollgate;help;render' {
            break
        }
        'tollgate;help;plan' {
            break
        }
        'tollgate;help;apply' {
            break
        }
        'tollgate;help;controller' {
            break
        }
        'tollgate;help;gateway' {
            break
        }
        'tollgate;help;session-gateway' {
            break
        }
        'tollgate;help;sessions' {
            break
        }
        'tollgate;help;connect' {
            break
        }
        'tollgate;help;status' {
            break
        }
        'tollgate;help;clients' {
            break
        }
        'tollgate;help;client' {
            [CompletionResult]::new('kubeconfig', 'kubeconfig', [CompletionResultType]::ParameterValue, 'Write a kubeconfig with the token in it (`update-kubeconfig` keeps the token off the disk)')
            [CompletionResult]::new('wg-config', 'wg-config', [CompletionResultType]::ParameterValue, 'Write a wg-quick configuration for the client''s WireGuard tunnel')
            [CompletionResult]::new('update-kubeconfig', 'update-kubeconfig', [CompletionResultType]::ParameterValue, 'Add a context per client file to your kubeconfig, with no token on disk')
            [CompletionResult]::new('new', 'new', [CompletionResultType]::ParameterValue, 'Write new Client documents into the repository (validated with it first)')
            [CompletionResult]::new('inspect', 'inspect', [CompletionResultType]::ParameterValue, 'Show one client in full: owners, recipients, who it acts as, and the state of its credentials and why')
            [CompletionResult]::new('get-token', 'get-token', [CompletionResultType]::ParameterValue, 'Print the client''s token as an ExecCredential for kubectl (the exec plugin `update-kubeconfig` writes)')
            break
        }
        'tollgate;help;client;kubeconfig' {
            break
        }
        'tollgate;help;client;wg-config' {
            break
        }
        'tollgate;help;client;update-kubeconfig' {
            break
        }
        'tollgate;help;client;new' {
            break
        }
        'tollgate;help;client;inspect' {
            break
        }
        'tollgate;help;client;get-token' {
            break
        }
        'tollgate;help;who-can' {
            break
        }
        'tollgate;help;can' {
            break
        }
        'tollgate;help;timeline' {
            break
        }
        'tollgate;help;schema' {
            break
        }
        'tollgate;help;completions' {
            break
        }
        'tollgate;help;help' {
            break
        }
    })

    $completions.Where{ $_.CompletionText -like "$wordToComplete*" } |
        Sort-Object -Property ListItemText
}
