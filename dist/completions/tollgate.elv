
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
            cand status 'Print what the controller reports: the applied revision, when, the last plan and the last error'
            cand client 'Turn a client file (as published, age-encrypted, or decrypted) into what kubectl or wg-quick reads'
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
            cand --detailed-exitcode 'Exit 2 when the plan has changes, 0 when it has none, 1 on error (as Terraform''s flag)'
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
            cand -y 'Apply without asking; required when standard input is not a terminal'
            cand --yes 'Apply without asking; required when standard input is not a terminal'
            cand --adopt 'Take over same-named objects that exist without tollgate''s labels instead of refusing'
            cand --allow-mass-deletion 'Apply even when the plan deletes more than the deletion guard allows'
            cand --allow-namespace-deletion 'Delete Namespaces tollgate created that the repository no longer has (with every object in them)'
            cand --publish 'After a successful apply, issue the clients'' credentials and publish their files (encrypted to their recipients) to the --git repository, in one commit that touches only the artifacts path'
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
            cand --no-leader-election 'Run without leader election (exactly one replica)'
            cand --no-publish 'Apply only; do not issue credentials or publish client files'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'tollgate;status'= {
            cand --namespace 'The controller''s namespace'
            cand --kubeconfig 'The kubeconfig file. Default: `KUBECONFIG`, then `~/.kube/config`, then the pod''s service account'
            cand --context 'The kubeconfig context. Default: its current context'
            cand --qps 'Client-side rate limit: API requests per second'
            cand --burst 'Client-side rate limit: requests allowed at once above `--qps` before pacing starts'
            cand --list-page-size 'Objects per page when reading the live state: fewer requests with larger pages, less memory with smaller ones'
            cand --json 'Print the status as JSON'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'tollgate;client'= {
            cand -h 'Print help'
            cand --help 'Print help'
            cand kubeconfig 'Write a kubeconfig that stock kubectl uses as is'
            cand wg-config 'Write a wg-quick configuration for the client''s WireGuard tunnel'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'tollgate;client;kubeconfig'= {
            cand -i 'An identity file to decrypt with, as `age -d -i`: age X25519 keys or an unencrypted SSH private key. Repeatable'
            cand --identity 'An identity file to decrypt with, as `age -d -i`: age X25519 keys or an unencrypted SSH private key. Repeatable'
            cand -o 'Write here (created with mode 0600) instead of standard output'
            cand --output 'Write here (created with mode 0600) instead of standard output'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'tollgate;client;wg-config'= {
            cand -i 'An identity file to decrypt with, as `age -d -i`: age X25519 keys or an unencrypted SSH private key. Repeatable'
            cand --identity 'An identity file to decrypt with, as `age -d -i`: age X25519 keys or an unencrypted SSH private key. Repeatable'
            cand -o 'Write here (created with mode 0600) instead of standard output'
            cand --output 'Write here (created with mode 0600) instead of standard output'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'tollgate;client;help'= {
            cand kubeconfig 'Write a kubeconfig that stock kubectl uses as is'
            cand wg-config 'Write a wg-quick configuration for the client''s WireGuard tunnel'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'tollgate;client;help;kubeconfig'= {
        }
        &'tollgate;client;help;wg-config'= {
        }
        &'tollgate;client;help;help'= {
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
            cand status 'Print what the controller reports: the applied revision, when, the last plan and the last error'
            cand client 'Turn a client file (as published, age-encrypted, or decrypted) into what kubectl or wg-quick reads'
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
        &'tollgate;help;status'= {
        }
        &'tollgate;help;client'= {
            cand kubeconfig 'Write a kubeconfig that stock kubectl uses as is'
            cand wg-config 'Write a wg-quick configuration for the client''s WireGuard tunnel'
        }
        &'tollgate;help;client;kubeconfig'= {
        }
        &'tollgate;help;client;wg-config'= {
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
