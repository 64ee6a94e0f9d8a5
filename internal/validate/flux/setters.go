package flux

import (
	"fmt"
	"sort"
	"strings"

	"github.com/kubewright/kubewright/internal/finding"
	"github.com/kubewright/kubewright/internal/validate"
)

// fluxSetter is one $imagepolicy marker found in a file.
type fluxSetter struct {
	file     string
	line     int
	ns, name string
}

// fluxCommentStart is the index of the '#' that starts a YAML comment on
// line, or -1.
func fluxCommentStart(line string) int {
	for i := 0; i < len(line); i++ {
		if line[i] == '#' && (i == 0 || line[i-1] == ' ' || line[i-1] == '\t') {
			return i
		}
	}
	return -1
}

// fluxParseSetter parses the marker value "ns:name" or "ns:name:tag|name|digest".
func fluxParseSetter(v string) (ns, name string, ok bool) {
	parts := strings.Split(v, ":")
	if len(parts) != 2 && len(parts) != 3 {
		return "", "", false
	}
	for _, p := range parts {
		if p == "" || strings.TrimSpace(p) != p {
			return "", "", false
		}
	}
	if len(parts) == 3 {
		switch parts[2] {
		case "tag", "name", "digest":
		default:
			return "", "", false
		}
	}
	return parts[0], parts[1], true
}

// setters scans the repository's YAML files for $imagepolicy markers on
// the line comment of a field (the only place Flux reads them) and checks
// each against the ImagePolicies and ImageUpdateAutomations.
func (r *fluxRun) setters() {
	var found []fluxSetter
	for _, f := range r.in.Files {
		if !strings.HasSuffix(f, ".yaml") && !strings.HasSuffix(f, ".yml") {
			continue
		}
		b, err := r.in.ReadFile(f)
		if err != nil {
			continue
		}
		for i, line := range strings.Split(string(b), "\n") {
			at := strings.Index(line, "$imagepolicy")
			if at < 0 {
				continue
			}
			c := fluxCommentStart(line)
			// Not in a comment, or a whole-line comment (commented-out
			// YAML or prose): Flux does not read either.
			if c < 0 || c > at || strings.TrimSpace(line[:c]) == "" {
				continue
			}
			n := i + 1
			m := fluxSetterRe.FindStringSubmatch(line[c:])
			if m == nil {
				r.setterFinding(f, n, "KW-FLUX-007", finding.Error,
					fmt.Sprintf("malformed image setter comment %q", strings.TrimSpace(line[c:])),
					`write it as # {"$imagepolicy": "namespace:policy"} (or "namespace:policy:tag" / ":name" / ":digest"), valid JSON with double quotes`)
				continue
			}
			ns, name, ok := fluxParseSetter(m[1])
			if !ok {
				r.setterFinding(f, n, "KW-FLUX-007", finding.Error,
					fmt.Sprintf("malformed image setter value %q", m[1]),
					`use "namespace:policy", optionally followed by ":tag", ":name" or ":digest"`)
				continue
			}
			found = append(found, fluxSetter{file: f, line: n, ns: ns, name: name})
		}
	}
	if len(found) == 0 {
		return
	}

	type automation struct {
		ref, dir string
	}
	var autos []automation
	for _, o := range r.in.Objects {
		gvk := o.U.GroupVersionKind()
		if gvk.Group != fluxImageGroup || gvk.Kind != "ImageUpdateAutomation" {
			continue
		}
		p, _ := fluxStr(o.U, "spec", "update", "path")
		if dir, ok := fluxCleanPath(p); ok {
			autos = append(autos, automation{ref: o.Ref(), dir: dir})
		}
	}

	for _, s := range found {
		if !r.has(fluxImageGroup, "ImagePolicy", s.ns, s.name) {
			hint := fmt.Sprintf("define ImagePolicy %s in namespace %s or fix the setter", s.name, s.ns)
			hint += r.existing(fluxImageGroup, "ImagePolicy", s.ns)
			r.setterFinding(s.file, s.line, "KW-FLUX-006", finding.Error,
				fmt.Sprintf("image setter refers to ImagePolicy %s/%s, which is not defined in the repository", s.ns, s.name),
				hint)
		}
		if len(autos) == 0 {
			continue
		}
		covered := false
		var dirs []string
		for _, a := range autos {
			covered = covered || fluxUnder(s.file, a.dir)
			dirs = append(dirs, "./"+strings.TrimPrefix(a.dir, "."))
		}
		if !covered {
			sort.Strings(dirs)
			r.setterFinding(s.file, s.line, "KW-FLUX-009", finding.Warning,
				fmt.Sprintf("image setter is outside the spec.update.path of every ImageUpdateAutomation (%s); Flux never updates this image", strings.Join(dirs, ", ")),
				"move the file under an automation's spec.update.path or widen that path")
		}
	}
	if len(autos) == 0 {
		s := found[0]
		r.setterFinding(s.file, s.line, "KW-FLUX-010", finding.Warning,
			fmt.Sprintf("%d image setter comment(s) but no ImageUpdateAutomation; Flux never updates these images", len(found)),
			"add an ImageUpdateAutomation whose spec.update.path covers the files with setters, or remove the setters")
	}
}

// setterFinding reports on a raw file line, naming the object whose
// document holds the line.
func (r *fluxRun) setterFinding(file string, line int, id string, sev finding.Severity, msg, hint string) {
	f := finding.Finding{ID: id, Severity: sev, Stage: validate.StageFlux, File: file, Line: line, Message: msg, Hint: hint}
	if r.in.Sources != nil {
		var best *validate.Doc
		for _, d := range r.in.Sources.Docs() {
			if d.File == file && d.Line <= line && (best == nil || d.Line > best.Line) {
				best = &d
			}
		}
		if best != nil && best.Kind != "" {
			f.Object = finding.ObjectRef(best.Kind, best.Namespace, best.Name)
			for _, o := range r.in.Objects {
				if o.File == best.File && o.Line == best.Line {
					f.Object = o.Ref()
					break
				}
			}
		}
	}
	r.out = append(r.out, f)
}
