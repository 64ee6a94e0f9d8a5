package diagnose

import (
	"fmt"
	pathpkg "path"
	"regexp"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/kubewright/kubewright/internal/finding"
)

// detectFlux reports the Flux objects related to the diagnosis that are
// not Ready or are suspended: Kustomizations (KW-DIAG-030), HelmReleases
// (031) and the image automation chain (032: ImageUpdateAutomation,
// ImagePolicy, ImageRepository).
func (d *diag) detectFlux() []issue {
	var out []issue
	images := d.imagesInScope()
	policies := map[string]bool{} // ImageRepository names the relevant policies use
	for _, f := range d.s.Flux {
		if f.Kind == "ImagePolicy" && d.imageRelevant(f, images) {
			policies[f.Namespace+"/"+f.ImageRepository] = true
		}
	}
	imageChain := false
	for _, f := range d.s.Flux {
		switch f.Kind {
		case "Kustomization", "HelmRelease":
			if d.deploysScope(f) {
				out = append(out, d.fluxNotReady(f)...)
			}
		case "ImagePolicy", "ImageRepository":
			if d.imageRelevant(f, images) || f.Kind == "ImageRepository" && policies[f.Namespace+"/"+f.Name] {
				imageChain = true
				out = append(out, d.fluxNotReady(f)...)
			}
		}
	}
	for _, f := range d.s.Flux {
		if f.Kind == "ImageUpdateAutomation" && (imageChain || d.scope.all()) {
			out = append(out, d.automationStopped(f)...)
		}
	}
	return out
}

var fluxIDs = map[string]string{
	"Kustomization": "KW-DIAG-030", "HelmRelease": "KW-DIAG-031",
	"ImageUpdateAutomation": "KW-DIAG-032", "ImagePolicy": "KW-DIAG-032", "ImageRepository": "KW-DIAG-032",
}

// fluxNotReady reports a suspended object (warning) or one whose Ready
// condition is False (error), at the field its reason points to.
func (d *diag) fluxNotReady(f FluxObject) []issue {
	id := fluxIDs[f.Kind]
	switch {
	case f.Suspended:
		return []issue{{id: id, sev: finding.Warning, obj: f.Ref(), field: path{key("spec"), key("suspend")},
			msg:  fmt.Sprintf("Flux %s %s is suspended: Flux applies no change to it", f.Kind, f.Name),
			hint: "remove spec.suspend (or set it to false) when the suspension is over"}}
	case f.Ready != "False":
		return nil
	}
	is := issue{id: id, sev: finding.Error, obj: f.Ref(), field: fluxField(f),
		msg: fmt.Sprintf("Flux %s %s is not ready (%s): %s", f.Kind, f.Name, f.Reason, firstLine(f.Message))}
	if !f.Since.IsZero() {
		is.evidence = append(is.evidence, fmt.Sprintf("%s/%s/%s Ready=False since %s", f.Kind, f.Namespace, f.Name, f.Since.UTC().Format(time.RFC3339)))
	}
	if lines := strings.Split(strings.TrimSpace(f.Message), "\n"); len(lines) > 1 {
		is.evidence = append(is.evidence, lines[1:]...)
	}
	is.evidence = append(is.evidence, d.namedInMessage(f.Message)...)
	switch f.Kind {
	case "Kustomization":
		is.hint = "fix what the message names in the repository; Flux applies the next revision of its source at its interval"
		if bf := d.buildFailure(f.Path); bf != nil && f.Reason == "BuildFailed" {
			is.at = bf
			is.evidence = append(is.evidence, fmt.Sprintf("the repository's build of %s fails at %s:%d (%s)", strings.TrimPrefix(f.Path, "./"), bf.File, bf.Line, bf.ID))
			is.hint = "fix the kustomization at that line; Flux applies the next revision of its source at its interval"
		}
	case "HelmRelease":
		is.hint = "fix the chart reference or the values the message names; after failed installs, the release's remediation settings decide when Flux retries"
	case "ImagePolicy":
		is.hint = "the policy selects no image: check its filter and range against the tags the ImageRepository found"
	default:
		is.hint = "the image repository cannot be scanned: check spec.image and the registry credentials (spec.secretRef)"
	}
	return []issue{is}
}

// buildFailure is the repository's own build error for the root at dir
// (a Kustomization's spec.path), if it has one.
func (d *diag) buildFailure(dir string) *finding.Finding {
	dir = pathpkg.Clean(strings.TrimPrefix(dir, "./"))
	for i, f := range d.o.loadFindings {
		if strings.HasPrefix(f.ID, "KW-BUILD-") && f.File != "" && (pathpkg.Dir(f.File) == dir || f.File == dir) {
			return &d.o.loadFindings[i]
		}
	}
	return nil
}

// fluxField is the field a Flux object's failure reason points at.
func fluxField(f FluxObject) path {
	r, m := f.Reason, strings.ToLower(f.Message)
	switch f.Kind {
	case "Kustomization":
		switch {
		case r == "ArtifactFailed" || strings.Contains(m, "source") && strings.Contains(m, "not found"):
			return path{key("spec"), key("sourceRef")}
		case r == "BuildFailed" || strings.Contains(m, "kustomize build failed") || strings.Contains(m, "kustomization.yaml"):
			return path{key("spec"), key("path")}
		case r == "HealthCheckFailed":
			return path{key("spec"), key("healthChecks")}
		}
	case "HelmRelease":
		switch {
		case strings.Contains(m, "values"):
			return path{key("spec"), key("values")}
		case strings.Contains(m, "chart") || r == "ArtifactFailed":
			return path{key("spec"), key("chart"), key("spec"), key("version")}
		}
	case "ImageRepository":
		if strings.Contains(m, "unauthorized") || strings.Contains(m, "authentication") || strings.Contains(m, "denied") {
			return path{key("spec"), key("secretRef")}
		}
		return path{key("spec"), key("image")}
	case "ImagePolicy":
		return path{key("spec"), key("policy")}
	}
	return nil
}

// automationStopped reports an ImageUpdateAutomation that is suspended,
// failing, or has not run for three intervals.
func (d *diag) automationStopped(f FluxObject) []issue {
	if f.Suspended || f.Ready == "False" {
		is := d.fluxNotReady(f)
		for i := range is {
			is[i].msg = strings.Replace(is[i].msg, "Flux applies no change to it", "new image tags are not written to git", 1)
			if f.Ready == "False" {
				is[i].hint = "the automation cannot update the repository: check its git credentials, branch and update path"
			}
		}
		return is
	}
	every, err := time.ParseDuration(f.Interval)
	if err != nil || every <= 0 || f.LastRun.IsZero() {
		return nil
	}
	idle := d.o.now().Sub(f.LastRun)
	if idle <= 3*every {
		return nil
	}
	return []issue{{id: "KW-DIAG-032", sev: finding.Warning, obj: f.Ref(), field: path{key("spec"), key("interval")},
		msg:      fmt.Sprintf("Flux ImageUpdateAutomation %s has not run for %s (its interval is %s): new image tags are not written to git", f.Name, idle.Round(time.Minute), f.Interval),
		hint:     "check that the image-automation-controller runs and can reach the source (its logs, and the GitRepository's Ready condition)",
		evidence: []string{fmt.Sprintf("last run %s", f.LastRun.UTC().Format(time.RFC3339))}}}
}

// deploysScope tells whether a Kustomization or HelmRelease deploys what
// is diagnosed: when a service is named, by name, by its inventory, or by
// the repository root it builds; for a namespace, by its target namespace
// or inventory.
func (d *diag) deploysScope(f FluxObject) bool {
	ns := d.s.Namespace
	if !d.scope.all() && !d.scope.empty {
		if f.Name == d.scope.service || f.ReleaseName == d.scope.service {
			return true
		}
		for _, w := range d.scope.anyWorkload() {
			if f.inventoryHas(w.Group, w.Kind, w.Namespace, w.Name) {
				return true
			}
		}
		for s := range d.scope.services {
			if f.inventoryHas("", "Service", ns, s) {
				return true
			}
		}
		return d.loc.rootRenders(f.Path, d.scope.anyWorkload())
	}
	if f.Namespace == ns || f.TargetNamespace == ns {
		return true
	}
	prefix := ns + "_"
	for _, id := range f.Inventory {
		if strings.HasPrefix(id, prefix) {
			return true
		}
	}
	return len(f.Inventory) == 0 && f.Ready == "False" && d.loc.rootRendersNamespace(f.Path, ns)
}

// imagesInScope are the image repositories (without tag or digest) the
// scoped workloads run.
func (d *diag) imagesInScope() map[string]bool {
	out := map[string]bool{}
	for i := range d.s.Pods {
		p := &d.s.Pods[i]
		if !d.scope.pod(p.Name) {
			continue
		}
		for _, c := range append(append([]corev1.Container(nil), p.Spec.InitContainers...), p.Spec.Containers...) {
			out[imageRepo(c.Image)] = true
		}
	}
	for _, t := range d.workloadTemplates() {
		for _, c := range t.Spec.Containers {
			out[imageRepo(c.Image)] = true
		}
	}
	return out
}

// imageRelevant tells whether an ImagePolicy or ImageRepository concerns
// an image the diagnosed workloads run (or is named after the service).
func (d *diag) imageRelevant(f FluxObject, images map[string]bool) bool {
	if d.scope.service != "" && f.Name == d.scope.service {
		return true
	}
	switch f.Kind {
	case "ImagePolicy":
		if f.LatestImage != "" && images[imageRepo(f.LatestImage)] {
			return true
		}
		for _, r := range d.s.Flux {
			if r.Kind == "ImageRepository" && r.Namespace == f.Namespace && r.Name == f.ImageRepository && images[r.Image] {
				return true
			}
		}
	case "ImageRepository":
		return images[f.Image]
	}
	return false
}

// imageRepo strips the tag and digest from an image reference.
func imageRepo(image string) string {
	image, _, _ = strings.Cut(image, "@")
	if i := strings.LastIndex(image, ":"); i > strings.LastIndex(image, "/") {
		image = image[:i]
	}
	return image
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

// objectInMessage finds "Kind/namespace/name" or "Kind/name" in a Flux
// message (a dry-run or health check failure names the object).
var objectInMessage = regexp.MustCompile(`\b([A-Z][A-Za-z]+)/(?:([a-z0-9.-]+)/)?([a-z0-9][a-z0-9.-]*)`)

// namedInMessage points at the repository files of the objects a Flux
// message names, as evidence.
func (d *diag) namedInMessage(msg string) []string {
	var out []string
	for _, m := range objectInMessage.FindAllStringSubmatch(msg, 5) {
		ns := m[2]
		if ns == "" {
			ns = d.s.Namespace
		}
		for _, group := range []string{"apps", "", "networking.k8s.io", "batch", "autoscaling"} {
			if file, line := d.loc.locate(objRef{Group: group, Kind: m[1], Namespace: ns, Name: m[3]}, nil); file != "" {
				out = append(out, fmt.Sprintf("%s/%s/%s is defined at %s:%d", m[1], ns, m[3], file, line))
				break
			}
		}
	}
	return out
}
