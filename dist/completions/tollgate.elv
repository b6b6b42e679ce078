
use builtin;
use str;

set edit:completion:arg-completer[tollgate] = {|@words|
    fn spaces {|n|
        builtin:repeat $n ' ' | str:join ''
    }
    fn cand {|text desc|
        edit:complex-candidate $text &display=$text' '(spaces (- 14 (wcswidth $text)))$desc
    }
    var command = 'tollgate'
    for word $words[1..-1] {
        if (str:has-prefix $word '-') {
            break
        }
        set command = $command';'$word
    }
    var completions = [
        &'tollgate'= {
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
            cand validate 'Check the repository and print every problem with its file, line and field'
            cand render 'Print the objects one cluster should hold, as YAML that `kubectl apply -f -` accepts'
            cand plan 'Show what would change in one cluster, per object and per person'
            cand apply 'Plan against the live cluster and apply the plan: server-side apply, then prune'
            cand controller 'Run in the cluster: poll the Git branch, reconcile access when the configuration changes (and on a resync schedule), publish client files; one replica at a time, elected with a Lease'
            cand gateway 'Run the cluster''s WireGuard gateway: serve the peers the controller publishes, changing only what changed'
            cand session-gateway 'Run the SSH session gateway: each login (`ssh USER+ENVIRONMENT@gateway`) in a pod of its own, removed when the session ends'
            cand sessions 'List the live SSH sessions: user, environment, pod, age, phase and source address'
            cand connect 'Bring up a WireGuard tunnel to the cluster from a client file, and a kubeconfig; down on Ctrl-C'
            cand status 'Print what the controller reports: the applied revision, when, the last plan and the last error'
            cand clients 'List every client with its owners, recipients, clusters and the state of its credentials'
            cand client 'Scaffold and inspect clients; turn a client file into a kubeconfig (entry) or a wg-quick configuration'
            cand who-can 'List every person and client the repository lets make a request in a cluster, and through which binding'
            cand can 'List everything one person or client may do in a cluster, rule by rule, where and through which binding'
            cand timeline 'Show every change of one person''s or client''s access over the repository''s history, with its commit'
            cand schema 'Write the JSON Schema of every document kind'
            cand completions 'Print a shell completion script, or write every script and the manual pages'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'tollgate;validate'= {
            cand --repo 'The access repository''s config root'
            cand --now 'Evaluate expiries at this RFC 3339 time instead of now (reproducible plans and tests)'
            cand --json 'Print diagnostics as JSON'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'tollgate;render'= {
            cand --repo 'The access repository''s config root'
            cand --now 'Evaluate expiries at this RFC 3339 time instead of now (reproducible plans and tests)'
            cand --cluster 'The cluster to render, as the repository''s Settings name it'
            cand --revision 'Git revision to record in the objects'' annotations'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'tollgate;plan'= {
            cand --repo 'The access repository''s config root'
            cand --now 'Evaluate expiries at this RFC 3339 time instead of now (reproducible plans and tests)'
            cand --cluster 'The cluster to plan, as the repository''s Settings name it'
            cand --live-from 'Plan against the objects in this file (`kubectl get -o yaml` output, or multi-document YAML) instead of the live cluster'
            cand --kubeconfig 'The kubeconfig file. Default: `KUBECONFIG`, then `~/.kube/config`, then the pod''s service account'
            cand --context 'The kubeconfig context. Default: its current context'
            cand --qps 'Client-side rate limit: API requests per second'
            cand --burst 'Client-side rate limit: requests allowed at once above `--qps` before pacing starts'
            cand --list-page-size 'Objects per page when reading the live state: fewer requests with larger pages, less memory with smaller ones'
            cand --out 'Save the plan for `tollgate apply FILE` (live plans only)'
            cand --output '`human`: Terraform-like text; `json`: the plan as data (`formatVersion: 1`); `markdown`: a merge-request comment'
            cand --color 'Colour the human output: `auto` on a terminal unless `NO_COLOR` is set'
            cand --revision 'Git revision to record in the objects'' annotations'
            cand --offline 'Plan against an empty cluster instead of the live one'
            cand --detailed-exitcode 'Exit 2 when the plan has changes, 0 when it has none, 1 on error (as Terraform''s flag); 3 when its changes give someone power over other people''s access or data (its "needs a second look" section)'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'tollgate;apply'= {
            cand --repo 'The access repository''s config root'
            cand --now 'Evaluate expiries at this RFC 3339 time instead of now (reproducible plans and tests)'
            cand --cluster 'The cluster to apply to, as the repository''s Settings name it'
            cand --kubeconfig 'The kubeconfig file. Default: `KUBECONFIG`, then `~/.kube/config`, then the pod''s service account'
            cand --context 'The kubeconfig context. Default: its current context'
            cand --qps 'Client-side rate limit: API requests per second'
            cand --burst 'Client-side rate limit: requests allowed at once above `--qps` before pacing starts'
            cand --list-page-size 'Objects per page when reading the live state: fewer requests with larger pages, less memory with smaller ones'
            cand --concurrency 'API requests in flight at once'
            cand --output '`human` prints the plan and the outcome of each object; `json` prints only the apply report'
            cand --report 'Also write the apply report as JSON to this file'
            cand --color 'Colour the human output: `auto` on a terminal unless `NO_COLOR` is set'
            cand --revision 'Git revision to record in the objects'' annotations (default with --git: the fetched commit)'
            cand --git 'Read the configuration from this remote''s branch head instead of --repo (fetched with gix into a local bare cache; no working tree). HTTP(S), SSH, git:// and file URLs'
            cand --branch 'The branch to read (and to push client files to)'
            cand --git-cache 'The bare cache repository. Default: a folder per URL and branch under ~/.cache/tollgate/git'
            cand --git-token-file 'HTTP(S): a file holding the token to authenticate with (read when Git asks, never logged)'
            cand --git-username 'HTTP(S): the username sent with --git-token-file'
            cand --git-ssh-key 'SSH: the private key file to authenticate with'
            cand --git-known-hosts 'SSH: the server''s host keys (`known_hosts` format), checked strictly. Default: ssh''s own known hosts'
            cand --author 'The author and committer of published client files, as `Name <email>`'
            cand --namespace 'The controller''s namespace, where the record of what was applied (and who may sign next) is kept'
            cand -y 'Apply without asking; required when standard input is not a terminal'
            cand --yes 'Apply without asking; required when standard input is not a terminal'
            cand --adopt 'Take over same-named objects that exist without tollgate''s labels instead of refusing'
            cand --allow-mass-deletion 'Apply even when the plan deletes more than the deletion guard allows'
            cand --allow-namespace-deletion 'Delete Namespaces tollgate created that the repository no longer has (with every object in them)'
            cand --publish 'After a successful apply, issue the clients'' credentials and publish their files (encrypted to their recipients) to the --git repository, in one commit that touches only the artifacts path'
            cand --allow-rewritten-history 'Apply a --git head that no longer contains the last revision applied with a verified signature (after a force push); only after checking it, since replaying an old signed commit undoes later ones'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'tollgate;controller'= {
            cand --cluster 'The cluster this controller reconciles, as the repository''s Settings name it'
            cand --git 'Read the configuration from this remote''s branch head instead of --repo (fetched with gix into a local bare cache; no working tree). HTTP(S), SSH, git:// and file URLs'
            cand --branch 'The branch to read (and to push client files to)'
            cand --git-cache 'The bare cache repository. Default: a folder per URL and branch under ~/.cache/tollgate/git'
            cand --git-token-file 'HTTP(S): a file holding the token to authenticate with (read when Git asks, never logged)'
            cand --git-username 'HTTP(S): the username sent with --git-token-file'
            cand --git-ssh-key 'SSH: the private key file to authenticate with'
            cand --git-known-hosts 'SSH: the server''s host keys (`known_hosts` format), checked strictly. Default: ssh''s own known hosts'
            cand --author 'The author and committer of published client files, as `Name <email>`'
            cand --kubeconfig 'The kubeconfig file. Default: `KUBECONFIG`, then `~/.kube/config`, then the pod''s service account'
            cand --context 'The kubeconfig context. Default: its current context'
            cand --qps 'Client-side rate limit: API requests per second'
            cand --burst 'Client-side rate limit: requests allowed at once above `--qps` before pacing starts'
            cand --list-page-size 'Objects per page when reading the live state: fewer requests with larger pages, less memory with smaller ones'
            cand --interval 'How often to ask Git for the branch head (advertised refs only; nothing is fetched unless it moved)'
            cand --resync 'When to reconcile even if Git did not move: repairs drift, renews tokens, enforces expiries and sunsets on time. A cron expression with seconds: `sec min hour day-of-month month day-of-week`'
            cand --namespace 'The controller''s namespace: its Lease, its status ConfigMap and its Events'
            cand --identity 'This replica''s name in the Lease'
            cand --lease-name 'The Lease replicas elect a leader with, in `--namespace`'
            cand --lease-duration 'How long the lease holds without renewal; a standby takes over after this long'
            cand --listen 'Where /healthz, /readyz and /metrics are served'
            cand --concurrency 'API requests in flight at once during an apply'
            cand --webhook-listen 'Also receive push webhooks (GitHub, GitLab, Gitea/Forgejo) on this address at `POST /webhook`: a verified push to the branch makes the controller poll at once'
            cand --webhook-secret-file 'The webhook''s shared secret (GitHub/Gitea: the HMAC key; GitLab: the token), read from this file'
            cand --no-leader-election 'Run without leader election (exactly one replica)'
            cand --no-publish 'Apply only; do not issue credentials or publish client files'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'tollgate;gateway'= {
            cand --kubeconfig 'The kubeconfig file. Default: `KUBECONFIG`, then `~/.kube/config`, then the pod''s service account'
            cand --context 'The kubeconfig context. Default: its current context'
            cand --qps 'Client-side rate limit: API requests per second'
            cand --burst 'Client-side rate limit: requests allowed at once above `--qps` before pacing starts'
            cand --list-page-size 'Objects per page when reading the live state: fewer requests with larger pages, less memory with smaller ones'
            cand --namespace 'The gateway''s own (the controller''s) namespace, where it writes its status (ConfigMap tollgate-gateway-status) for `tollgate status`'
            cand --clients-namespace 'Settings'' clientsNamespace: where the controller publishes the peer list (ConfigMap tollgate-peers) and the gateway''s key (Secret tollgate-gateway)'
            cand --interface 'The WireGuard interface to create (at most 15 characters, unique on the host)'
            cand --listen-port 'The UDP port WireGuard listens on (the gateway Service''s target port)'
            cand --threads 'boringtun worker threads'
            cand --interval 'How often the peer list is read and the device compared with it'
            cand --addresses-interval 'How often the Service and Pod addresses of namespaces are read, when a client is bound to namespaces (a new Pod is reachable after at most this long)'
            cand --listen 'Where /healthz, /readyz and /metrics are served'
            cand --no-forward 'Do not turn on IP forwarding (it is on already: an init container or the pod''s sysctls). The filter that keeps clients to their grants is installed either way'
            cand --no-masquerade 'Do not masquerade clients'' packets (the cluster network then needs a route back to the client pool)'
            cand --enable-forwarding-only 'Only turn on IP forwarding in this network namespace, then exit (the gateway pod''s privileged init container; the gateway itself needs NET_ADMIN only)'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'tollgate;session-gateway'= {
            cand --kubeconfig 'The kubeconfig file. Default: `KUBECONFIG`, then `~/.kube/config`, then the pod''s service account'
            cand --context 'The kubeconfig context. Default: its current context'
            cand --qps 'Client-side rate limit: API requests per second'
            cand --burst 'Client-side rate limit: requests allowed at once above `--qps` before pacing starts'
            cand --list-page-size 'Objects per page when reading the live state: fewer requests with larger pages, less memory with smaller ones'
            cand --namespace 'The gateway''s own (the controller''s) namespace, where its host key is kept (Secret tollgate-session-gateway, generated by the first start)'
            cand --clients-namespace 'Settings'' clientsNamespace: where the controller publishes the session directory (ConfigMap tollgate-sessions) and the gateway its status (ConfigMap tollgate-session-gateway-status)'
            cand --advertise 'Where people reach the gateway, HOST or HOST:PORT as they type it (e.g. sessions.example.com:2222): the controller publishes the host key''s known_hosts line for it in the repository (<artifactsPath>/<cluster>/known_hosts)'
            cand --listen 'Where the SSH server listens'
            cand --refresh-interval 'How often the session directory is read again (users'' keys and environments follow the repository), and at most how often the status (live sessions, their last input for idle times) is written'
            cand --reap-interval 'How often session pods that no live session holds are looked for and removed'
            cand --login-grace-time 'How long a connection may take to authenticate before it is closed (OpenSSH''s LoginGraceTime)'
            cand --max-unauthenticated 'At most this many connections may be unauthenticated at once; more are closed at once (OpenSSH''s MaxStartups)'
            cand --max-sessions-per-connection 'At most this many sessions (each a pod) at once on one connection (OpenSSH''s MaxSessions)'
            cand --max-sessions-per-user 'At most this many sessions (each a pod) at once for one user, over all their connections'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'tollgate;sessions'= {
            cand --kubeconfig 'The kubeconfig file. Default: `KUBECONFIG`, then `~/.kube/config`, then the pod''s service account'
            cand --context 'The kubeconfig context. Default: its current context'
            cand --qps 'Client-side rate limit: API requests per second'
            cand --burst 'Client-side rate limit: requests allowed at once above `--qps` before pacing starts'
            cand --list-page-size 'Objects per page when reading the live state: fewer requests with larger pages, less memory with smaller ones'
            cand --clients-namespace 'Settings'' clientsNamespace: where the session gateway reports when each session last had input'
            cand --json 'Print JSON instead of a table'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'tollgate;connect'= {
            cand -i 'An identity file to decrypt with, as `age -d -i`. Repeatable'
            cand --identity 'An identity file to decrypt with, as `age -d -i`. Repeatable'
            cand --interface 'The WireGuard interface to create (at most 15 characters; one per tunnel on this machine)'
            cand --kubeconfig 'Also merge the client''s context into this kubeconfig (as `client update-kubeconfig --use-context`)'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'tollgate;status'= {
            cand --namespace 'The controller''s namespace'
            cand --clients-namespace 'Settings'' clientsNamespace: where the session gateway reports its host key and live sessions'
            cand --kubeconfig 'The kubeconfig file. Default: `KUBECONFIG`, then `~/.kube/config`, then the pod''s service account'
            cand --context 'The kubeconfig context. Default: its current context'
            cand --qps 'Client-side rate limit: API requests per second'
            cand --burst 'Client-side rate limit: requests allowed at once above `--qps` before pacing starts'
            cand --list-page-size 'Objects per page when reading the live state: fewer requests with larger pages, less memory with smaller ones'
            cand --json 'Print the status as JSON'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'tollgate;clients'= {
            cand --repo 'The access repository''s config root'
            cand --now 'Evaluate expiries at this RFC 3339 time instead of now (reproducible plans and tests)'
            cand --cluster 'Only this Settings cluster; it is also the cluster the kubeconfig reaches (default: the Settings cluster whose `apiServer` is the kubeconfig''s server)'
            cand --kubeconfig 'The kubeconfig file. Default: `KUBECONFIG`, then `~/.kube/config`, then the pod''s service account'
            cand --context 'The kubeconfig context. Default: its current context'
            cand --qps 'Client-side rate limit: API requests per second'
            cand --burst 'Client-side rate limit: requests allowed at once above `--qps` before pacing starts'
            cand --list-page-size 'Objects per page when reading the live state: fewer requests with larger pages, less memory with smaller ones'
            cand --offline 'Do not read the cluster: show what the repository says'
            cand --json 'Print the clients as JSON'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'tollgate;client'= {
            cand -h 'Print help'
            cand --help 'Print help'
            cand kubeconfig 'Write a kubeconfig with the token in it (`update-kubeconfig` keeps the token off the disk)'
            cand wg-config 'Write a wg-quick configuration for the client''s WireGuard tunnel'
            cand update-kubeconfig 'Add a context per client file to your kubeconfig, with no token on disk'
            cand new 'Write new Client documents into the repository (validated with it first)'
            cand inspect 'Show one client in full: owners, recipients, who it acts as, and the state of its credentials and why'
            cand get-token 'Print the client''s token as an ExecCredential for kubectl (the exec plugin `update-kubeconfig` writes)'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'tollgate;client;kubeconfig'= {
            cand -i 'An identity file to decrypt with, as `age -d -i`: age keys (optionally `age -p` encrypted) or an SSH private key (a passphrase is asked for on the terminal). Repeatable'
            cand --identity 'An identity file to decrypt with, as `age -d -i`: age keys (optionally `age -p` encrypted) or an SSH private key (a passphrase is asked for on the terminal). Repeatable'
            cand -o 'Write here (created with mode 0600) instead of standard output'
            cand --output 'Write here (created with mode 0600) instead of standard output'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'tollgate;client;wg-config'= {
            cand -i 'An identity file to decrypt with, as `age -d -i`: age keys (optionally `age -p` encrypted) or an SSH private key (a passphrase is asked for on the terminal). Repeatable'
            cand --identity 'An identity file to decrypt with, as `age -d -i`: age keys (optionally `age -p` encrypted) or an SSH private key (a passphrase is asked for on the terminal). Repeatable'
            cand -o 'Write here (created with mode 0600) instead of standard output'
            cand --output 'Write here (created with mode 0600) instead of standard output'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'tollgate;client;update-kubeconfig'= {
            cand -i 'An identity file to decrypt with, as `age -d -i`: age keys (optionally `age -p` encrypted) or an SSH private key (a passphrase is asked for on the terminal). Repeatable'
            cand --identity 'An identity file to decrypt with, as `age -d -i`: age keys (optionally `age -p` encrypted) or an SSH private key (a passphrase is asked for on the terminal). Repeatable'
            cand --kubeconfig 'The kubeconfig to update. Default: the first file of `KUBECONFIG`, then `~/.kube/config`'
            cand --context-name 'The context''s name instead of `<cluster>/<client>` (one client file only)'
            cand --server 'The API server URL instead of the one in the client file (e.g. a tunnel or a private endpoint)'
            cand --use-context 'Make the (first file''s) context the current context'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'tollgate;client;new'= {
            cand --owner 'A user who owns the client: their keys open its file and their `accessAs: client` grants land on it. Repeatable'
            cand --cluster 'A cluster the client gets credentials for. Repeatable. Default: every cluster of the Settings document'
            cand --count 'Make this many clients, named `<name>-1`, `<name>-2`, ... (skipping names that are taken)'
            cand --default-namespace 'The namespace of the client''s kubeconfig context'
            cand --repo 'The access repository''s config root'
            cand --now 'Evaluate expiries at this RFC 3339 time instead of now (reproducible plans and tests)'
            cand --no-vpn 'No WireGuard key and address range (the default when a cluster has no `gateway` and `clientPool`)'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'tollgate;client;inspect'= {
            cand --repo 'The access repository''s config root'
            cand --now 'Evaluate expiries at this RFC 3339 time instead of now (reproducible plans and tests)'
            cand --cluster 'Only this Settings cluster; it is also the cluster the kubeconfig reaches (default: the Settings cluster whose `apiServer` is the kubeconfig''s server)'
            cand --kubeconfig 'The kubeconfig file. Default: `KUBECONFIG`, then `~/.kube/config`, then the pod''s service account'
            cand --context 'The kubeconfig context. Default: its current context'
            cand --qps 'Client-side rate limit: API requests per second'
            cand --burst 'Client-side rate limit: requests allowed at once above `--qps` before pacing starts'
            cand --list-page-size 'Objects per page when reading the live state: fewer requests with larger pages, less memory with smaller ones'
            cand --offline 'Do not read the cluster: show what the repository says'
            cand --json 'Print the client as JSON'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'tollgate;client;get-token'= {
            cand -i 'An identity file to decrypt with, as for `update-kubeconfig`. Repeatable'
            cand --identity 'An identity file to decrypt with, as for `update-kubeconfig`. Repeatable'
            cand --as 'The user the kubeconfig acts as (its `as`): the command fails if the client file now says otherwise'
            cand --as-group 'A group the kubeconfig acts as (its `as-groups`); repeatable'
            cand --as-client 'The kubeconfig entry is the client as itself (`<name>/as-client`): whom the client file acts as is not checked'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'tollgate;client;help'= {
            cand kubeconfig 'Write a kubeconfig with the token in it (`update-kubeconfig` keeps the token off the disk)'
            cand wg-config 'Write a wg-quick configuration for the client''s WireGuard tunnel'
            cand update-kubeconfig 'Add a context per client file to your kubeconfig, with no token on disk'
            cand new 'Write new Client documents into the repository (validated with it first)'
            cand inspect 'Show one client in full: owners, recipients, who it acts as, and the state of its credentials and why'
            cand get-token 'Print the client''s token as an ExecCredential for kubectl (the exec plugin `update-kubeconfig` writes)'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'tollgate;client;help;kubeconfig'= {
        }
        &'tollgate;client;help;wg-config'= {
        }
        &'tollgate;client;help;update-kubeconfig'= {
        }
        &'tollgate;client;help;new'= {
        }
        &'tollgate;client;help;inspect'= {
        }
        &'tollgate;client;help;get-token'= {
        }
        &'tollgate;client;help;help'= {
        }
        &'tollgate;who-can'= {
            cand -n 'The namespace; without it, the question is cluster-wide (only ClusterRoleBindings answer)'
            cand --namespace 'The namespace; without it, the question is cluster-wide (only ClusterRoleBindings answer)'
            cand --repo 'The access repository''s config root'
            cand --now 'Evaluate expiries at this RFC 3339 time instead of now (reproducible plans and tests)'
            cand --cluster 'The cluster, as the repository''s Settings name it'
            cand --roles-from 'Read the ClusterRoles the repository does not define from this file (`kubectl get clusterroles -o yaml`)'
            cand --kubeconfig 'The kubeconfig file. Default: `KUBECONFIG`, then `~/.kube/config`, then the pod''s service account'
            cand --context 'The kubeconfig context. Default: its current context'
            cand --qps 'Client-side rate limit: API requests per second'
            cand --burst 'Client-side rate limit: requests allowed at once above `--qps` before pacing starts'
            cand --list-page-size 'Objects per page when reading the live state: fewer requests with larger pages, less memory with smaller ones'
            cand --at 'Answer as the repository stood at a commit (`HEAD~3`, a commit id, a tag) or a date of its first-parent history (`2026-11-30`: the end of that day, UTC; or RFC 3339), expiries evaluated at that instant; a commit that did not validate was never applied, so the one before it answers. Only the repository''s roles and bindings (and Kubernetes'' default ClusterRoles) answer: the cluster is not read'
            cand --limit 'With --since: read at most this many commits back'
            cand --offline 'Do not read the cluster''s roles and bindings'
            cand --json 'Print the answer as JSON'
            cand --since 'Also say since which commit each answer holds: walking the first-parent history back while the same subject may through the same binding (the repository''s bindings only; commits that did not validate are passed over)'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'tollgate;can'= {
            cand --repo 'The access repository''s config root'
            cand --now 'Evaluate expiries at this RFC 3339 time instead of now (reproducible plans and tests)'
            cand --cluster 'The cluster, as the repository''s Settings name it'
            cand --roles-from 'Read the ClusterRoles the repository does not define from this file (`kubectl get clusterroles -o yaml`)'
            cand --kubeconfig 'The kubeconfig file. Default: `KUBECONFIG`, then `~/.kube/config`, then the pod''s service account'
            cand --context 'The kubeconfig context. Default: its current context'
            cand --qps 'Client-side rate limit: API requests per second'
            cand --burst 'Client-side rate limit: requests allowed at once above `--qps` before pacing starts'
            cand --list-page-size 'Objects per page when reading the live state: fewer requests with larger pages, less memory with smaller ones'
            cand --at 'Answer as the repository stood at a commit (`HEAD~3`, a commit id, a tag) or a date of its first-parent history (`2026-11-30`: the end of that day, UTC; or RFC 3339), expiries evaluated at that instant; a commit that did not validate was never applied, so the one before it answers. Only the repository''s roles and bindings (and Kubernetes'' default ClusterRoles) answer: the cluster is not read'
            cand --offline 'Do not read the cluster''s roles and bindings'
            cand --json 'Print the answer as JSON'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'tollgate;timeline'= {
            cand --repo 'The access repository''s config root'
            cand --now 'Evaluate expiries at this RFC 3339 time instead of now (reproducible plans and tests)'
            cand --cluster 'The cluster, as the repository''s Settings name it'
            cand --limit 'Read at most this many commits back from HEAD'
            cand --namespace 'With --applied: the controller''s namespace, which holds the record'
            cand --kubeconfig 'The kubeconfig file. Default: `KUBECONFIG`, then `~/.kube/config`, then the pod''s service account'
            cand --context 'The kubeconfig context. Default: its current context'
            cand --qps 'Client-side rate limit: API requests per second'
            cand --burst 'Client-side rate limit: requests allowed at once above `--qps` before pacing starts'
            cand --list-page-size 'Objects per page when reading the live state: fewer requests with larger pages, less memory with smaller ones'
            cand --json 'Print the timeline as JSON'
            cand --applied 'Also read the cluster''s record of what was applied (ConfigMap `tollgate-applied`, written by the controller and `tollgate apply`) and say when each change was first applied, or that it was not'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'tollgate;schema'= {
            cand --out 'The folder to write `<kind>.json` files to'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'tollgate;completions'= {
            cand --out 'Write every shell''s completion script to DIR/completions and the manual pages to DIR/man'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'tollgate;help'= {
            cand validate 'Check the repository and print every problem with its file, line and field'
            cand render 'Print the objects one cluster should hold, as YAML that `kubectl apply -f -` accepts'
            cand plan 'Show what would change in one cluster, per object and per person'
            cand apply 'Plan against the live cluster and apply the plan: server-side apply, then prune'
            cand controller 'Run in the cluster: poll the Git branch, reconcile access when the configuration changes (and on a resync schedule), publish client files; one replica at a time, elected with a Lease'
            cand gateway 'Run the cluster''s WireGuard gateway: serve the peers the controller publishes, changing only what changed'
            cand session-gateway 'Run the SSH session gateway: each login (`ssh USER+ENVIRONMENT@gateway`) in a pod of its own, removed when the session ends'
            cand sessions 'List the live SSH sessions: user, environment, pod, age, phase and source address'
            cand connect 'Bring up a WireGuard tunnel to the cluster from a client file, and a kubeconfig; down on Ctrl-C'
            cand status 'Print what the controller reports: the applied revision, when, the last plan and the last error'
            cand clients 'List every client with its owners, recipients, clusters and the state of its credentials'
            cand client 'Scaffold and inspect clients; turn a client file into a kubeconfig (entry) or a wg-quick configuration'
            cand who-can 'List every person and client the repository lets make a request in a cluster, and through which binding'
            cand can 'List everything one person or client may do in a cluster, rule by rule, where and through which binding'
            cand timeline 'Show every change of one person''s or client''s access over the repository''s history, with its commit'
            cand schema 'Write the JSON Schema of every document kind'
            cand completions 'Print a shell completion script, or write every script and the manual pages'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'tollgate;help;validate'= {
        }
        &'tollgate;help;render'= {
        }
        &'tollgate;help;plan'= {
        }
        &'tollgate;help;apply'= {
        }
        &'tollgate;help;controller'= {
        }
        &'tollgate;help;gateway'= {
        }
        &'tollgate;help;session-gateway'= {
        }
        &'tollgate;help;sessions'= {
        }
        &'tollgate;help;connect'= {
        }
        &'tollgate;help;status'= {
        }
        &'tollgate;help;clients'= {
        }
        &'tollgate;help;client'= {
            cand kubeconfig 'Write a kubeconfig with the token in it (`update-kubeconfig` keeps the token off the disk)'
            cand wg-config 'Write a wg-quick configuration for the client''s WireGuard tunnel'
            cand update-kubeconfig 'Add a context per client file to your kubeconfig, with no token on disk'
            cand new 'Write new Client documents into the repository (validated with it first)'
            cand inspect 'Show one client in full: owners, recipients, who it acts as, and the state of its credentials and why'
            cand get-token 'Print the client''s token as an ExecCredential for kubectl (the exec plugin `update-kubeconfig` writes)'
        }
        &'tollgate;help;client;kubeconfig'= {
        }
        &'tollgate;help;client;wg-config'= {
        }
        &'tollgate;help;client;update-kubeconfig'= {
        }
        &'tollgate;help;client;new'= {
        }
        &'tollgate;help;client;inspect'= {
        }
        &'tollgate;help;client;get-token'= {
        }
        &'tollgate;help;who-can'= {
        }
        &'tollgate;help;can'= {
        }
        &'tollgate;help;timeline'= {
        }
        &'tollgate;help;schema'= {
        }
        &'tollgate;help;completions'= {
        }
        &'tollgate;help;help'= {
        }
    ]
    $completions[$command]
}
