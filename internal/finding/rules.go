package finding

import "sort"

// Rule describes one finding ID: the stage that reports it, its default
// severity and what it is about. Rules is the one list of the IDs
// kubewright reports; .github/kubewright.yaml validate.rules is checked
// against it, and a test keeps it in step with internal/validate.
type Rule struct {
	ID       string
	Stage    string
	Severity Severity // the default; validate.rules can change it
	Title    string
}

// Rules lists every finding ID, sorted.
var Rules = []Rule{
	{"KW-BUILD-001", "build", Error, "kustomize build of a root fails"},
	{"KW-BUILD-002", "build", Error, "Flux's generated kustomization cannot be emulated"},
	{"KW-BUILD-010", "build", Error, "kustomization references a remote resource"},
	{"KW-BUILD-011", "build", Error, "kustomization reference is an absolute path"},
	{"KW-BUILD-012", "build", Error, "kustomization reference leaves the repository or enters .git"},
	{"KW-BUILD-013", "build", Error, "Helm chart inflation (downloads and runs helm)"},
	{"KW-BUILD-014", "build", Error, "plugin generator, transformer or validator"},
	{"KW-BUILD-015", "build", Error, "a file the build reads is too large, an alias bomb or not a regular file"},
	{"KW-BUILD-016", "build", Error, "the build of a root overran its deadline"},
	{"KW-BUILD-017", "build", Error, "the build of a root read more than its byte budget"},
	{"KW-DIAG-001", "diagnose", Error, "container restarted in a loop (CrashLoopBackOff): exit code and last log lines"},
	{"KW-DIAG-002", "diagnose", Error, "container killed for memory (OOMKilled), against its memory limit"},
	{"KW-DIAG-003", "diagnose", Error, "image cannot be pulled: tag not found, access refused or registry unreachable"},
	{"KW-DIAG-004", "diagnose", Error, "container cannot be created: missing Secret, ConfigMap or key"},
	{"KW-DIAG-005", "diagnose", Error, "Pod cannot be scheduled: requests, taints, node selector or claims"},
	{"KW-DIAG-006", "diagnose", Error, "PersistentVolumeClaim not bound"},
	{"KW-DIAG-010", "diagnose", Error, "container not ready: readiness probe on a port or path the container does not serve"},
	{"KW-DIAG-011", "diagnose", Error, "Service has no ready endpoint"},
	{"KW-DIAG-012", "diagnose", Error, "Service selector matches no Pod"},
	{"KW-DIAG-013", "diagnose", Error, "Service targetPort matches no container port"},
	{"KW-DIAG-020", "diagnose", Warning, "logs show a failed lookup of, or a refused connection to, another service"},
	{"KW-DIAG-030", "diagnose", Error, "Flux Kustomization not ready or suspended"},
	{"KW-DIAG-031", "diagnose", Error, "Flux HelmRelease not ready or suspended"},
	{"KW-DIAG-032", "diagnose", Warning, "Flux image automation stopped: suspended, failing or idle"},
	{"KW-DISCOVER-001", "discover", Error, "a manifest is not valid YAML"},
	{"KW-DISCOVER-002", "discover", Error, ".github/kubewright.yaml is invalid"},
	{"KW-DISCOVER-003", "discover", Warning, "a manifest is over the size cap and is not validated"},
	{"KW-DISCOVER-004", "discover", Error, "a manifest cannot be read or parsed safely (alias budget, not a regular file)"},
	{"KW-DISCOVER-005", "discover", Error, "validate.crds names something that cannot be loaded"},
	{"KW-DOCKER-001", "dockerfile", Error, "the Dockerfile does not parse or has no FROM"},
	{"KW-DOCKER-010", "dockerfile", Warning, "single-stage build"},
	{"KW-DOCKER-011", "dockerfile", Error, "the final stage runs as root"},
	{"KW-DOCKER-012", "dockerfile", Warning, "USER is a name, not a numeric UID"},
	{"KW-DOCKER-013", "dockerfile", Error, "base image not pinned"},
	{"KW-DOCKER-014", "dockerfile", Error, "COPY source missing from the build context"},
	{"KW-DOCKER-015", "dockerfile", Error, "a secret is copied into the image"},
	{"KW-DOCKER-016", "dockerfile", Warning, "EXPOSE does not match the workload's containerPort"},
	{"KW-DOCKER-017", "dockerfile", Warning, "shell-form ENTRYPOINT or CMD"},
	{"KW-DOCKER-100", "dockerfile", Warning, "BuildKit linter rule"},
	{"KW-DRYRUN-001", "dryrun", Error, "rejected by the API server"},
	{"KW-DRYRUN-002", "dryrun", Error, "not a valid CustomResourceDefinition"},
	{"KW-DRYRUN-003", "dryrun", Error, "the API server does not serve the kind"},
	{"KW-DRYRUN-004", "dryrun", Info, "namespace created by this change: not dry-run against the cluster"},
	{"KW-DRYRUN-005", "dryrun", Warning, "namespace exists neither in the cluster nor in the repository"},
	{"KW-DRYRUN-006", "dryrun", Error, "the server-side dry-run did not run"},
	{"KW-DRYRUN-007", "dryrun", Info, "CRD conversion webhook not called: installed with conversion None"},
	{"KW-DRYRUN-008", "dryrun", Info, "APIService or admission webhook not called by the throwaway server"},
	{"KW-DRYRUN-009", "dryrun", Info, "admission policy not applied to the other objects of the change"},
	{"KW-FLUX-001", "flux", Error, "Kustomization spec.path leaves the source or does not exist"},
	{"KW-FLUX-002", "flux", Error, "sourceRef missing or unresolved"},
	{"KW-FLUX-003", "flux", Error, "sourceRef kind empty or not allowed"},
	{"KW-FLUX-004", "flux", Error, "dependsOn entry unnamed or unresolved"},
	{"KW-FLUX-005", "flux", Error, "dependsOn cycle"},
	{"KW-FLUX-006", "flux", Error, "image setter names an undefined ImagePolicy"},
	{"KW-FLUX-007", "flux", Error, "malformed image setter comment"},
	{"KW-FLUX-008", "flux", Error, "ImagePolicy's ImageRepository missing"},
	{"KW-FLUX-009", "flux", Warning, "image setter outside every ImageUpdateAutomation path"},
	{"KW-FLUX-010", "flux", Warning, "image setters but no ImageUpdateAutomation"},
	{"KW-FLUX-011", "flux", Error, "HelmRelease chart or chart source missing"},
	{"KW-FLUX-012", "flux", Error, "interval or timeout is not a positive duration"},
	{"KW-GO-001", "go", Error, "go mod tidy fails, or not a Go module"},
	{"KW-GO-002", "go", Error, "go build fails"},
	{"KW-GO-003", "go", Error, "go vet reports a problem"},
	{"KW-GO-004", "go", Error, "go test fails"},
	{"KW-GO-005", "go", Error, "a go command timed out or was cancelled"},
	{"KW-GO-006", "go", Error, "the go toolchain could not run"},
	{"KW-GO-007", "go", Warning, "not executed: no sandbox to build and test the module in"},
	{"KW-GO-008", "go", Error, "a step ran into a sandbox limit (memory, processes, CPU, file size, disk)"},
	{"KW-POL-001", "policy", Error, "container may run as root"},
	{"KW-POL-002", "policy", Warning, "writable root filesystem"},
	{"KW-POL-003", "policy", Error, "privileged container"},
	{"KW-POL-004", "policy", Warning, "privilege escalation allowed"},
	{"KW-POL-005", "policy", Error, "hostPath volume"},
	{"KW-POL-006", "policy", Error, "host namespaces shared (hostNetwork, hostPID, hostIPC)"},
	{"KW-POL-007", "policy", Warning, "capabilities not dropped"},
	{"KW-POL-010", "policy", Warning, "no resource requests"},
	{"KW-POL-011", "policy", Warning, "no memory limit"},
	{"KW-POL-012", "policy", Warning, "no readinessProbe"},
	{"KW-POL-013", "policy", Warning, "no livenessProbe"},
	{"KW-POL-014", "policy", Error, "image tag :latest or none"},
	{"KW-POL-020", "policy", Error, "plaintext secret in an env var"},
	{"KW-POL-021", "policy", Error, "secret-looking value in a ConfigMap"},
	{"KW-POL-022", "policy", Error, "plaintext Secret committed"},
	{"KW-POL-030", "policy", Warning, "no NetworkPolicy in the namespace"},
	{"KW-POL-031", "policy", Error, "Service selects no pods"},
	{"KW-POL-032", "policy", Warning, "Service targetPort matches no container port"},
	{"KW-POL-033", "policy", Error, "Ingress backend Service or port missing"},
	{"KW-POL-034", "policy", Error, "VirtualService destination missing"},
	{"KW-SCHEMA-001", "schema", Error, "unknown field"},
	{"KW-SCHEMA-002", "schema", Error, "wrong type or invalid value"},
	{"KW-SCHEMA-003", "schema", Error, "required field missing"},
	{"KW-SCHEMA-004", "schema", Error, "apiVersion missing, unknown or removed"},
	{"KW-SCHEMA-005", "schema", Error, "metadata.name missing or invalid"},
	{"KW-SCHEMA-006", "schema", Error, "duplicate field"},
	{"KW-SCHEMA-010", "schema", Warning, "no CRD known for a custom resource, or the schema check could not start"},
	{"KW-SCHEMA-011", "schema", Error, "version not served by the CRD"},
	{"KW-SCHEMA-012", "schema", Error, "custom resource fails its CRD schema"},
	{"KW-SCHEMA-013", "schema", Error, "unknown field in a custom resource"},
	{"KW-SCHEMA-014", "schema", Warning, "deprecated CRD version"},
}

// LookupRule returns the rule with the given ID.
func LookupRule(id string) (Rule, bool) {
	i := sort.Search(len(Rules), func(i int) bool { return Rules[i].ID >= id })
	if i < len(Rules) && Rules[i].ID == id {
		return Rules[i], true
	}
	return Rule{}, false
}
