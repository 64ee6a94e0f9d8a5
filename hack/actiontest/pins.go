package actiontest

import (
	"bytes"
	"embed"
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"strings"

	yaml "go.yaml.in/yaml/v3"
)

// pinned holds the metadata (action.yml) of every action version the
// project's workflows may use, at pinned/<owner>/<repo>/<sha>[/<path>]/,
// each as published at that commit under a first line
// "# pinned: <action> <version>".
//
//go:embed pinned
var pinned embed.FS

// Pin is one vendored action version.
type Pin struct {
	// Action is "owner/repo" or "owner/repo/path".
	Action  string
	Version string
	SHA     string
	// Metadata is the action.yml as published at SHA.
	Metadata []byte
}

// Pins lists the vendored action versions.
func Pins() ([]Pin, error) {
	var pins []Pin
	err := fs.WalkDir(pinned, "pinned", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || path.Base(p) != "action.yml" {
			return err
		}
		b, err := pinned.ReadFile(p)
		if err != nil {
			return err
		}
		parts := strings.Split(strings.TrimPrefix(path.Dir(p), "pinned/"), "/")
		if len(parts) < 3 {
			return fmt.Errorf("%s: want pinned/<owner>/<repo>/<sha>[/<path>]/action.yml", p)
		}
		action := strings.Join(append(parts[:2:2], parts[3:]...), "/")
		first, _, _ := bytes.Cut(b, []byte("\n"))
		f := strings.Fields(string(first))
		if len(f) != 4 || f[0] != "#" || f[1] != "pinned:" || f[2] != action {
			return fmt.Errorf("%s: the first line must be \"# pinned: %s vX.Y.Z\"", p, action)
		}
		pins = append(pins, Pin{Action: action, Version: f[3], SHA: parts[2], Metadata: b})
		return nil
	})
	return pins, err
}

var (
	fullSHA      = regexp.MustCompile(`^[0-9a-f]{40}$`)
	versionNote  = regexp.MustCompile(`^#\s*(v\d+\.\d+\.\d+)$`)
	releaseTagRe = regexp.MustCompile(`^v\d+\.\d+\.\d+$`)
)

// use is one `uses:` of a workflow.
type use struct {
	spec    string // as written
	line    int
	column  int
	comment string // the line comment, "# v7.0.1"
	step    bool   // a step (an action), not a job (a reusable workflow)
}

// uses lists a workflow's `uses:` values: jobs.<id>.uses and
// jobs.<id>.steps[].uses.
func uses(content []byte) ([]use, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(content, &doc); err != nil {
		return nil, err
	}
	if len(doc.Content) == 0 {
		return nil, nil
	}
	var out []use
	add := func(n *yaml.Node, step bool) {
		if n != nil && n.Kind == yaml.ScalarNode {
			out = append(out, use{spec: n.Value, line: n.Line, column: n.Column, comment: strings.TrimSpace(n.LineComment), step: step})
		}
	}
	jobs := lookup(doc.Content[0], "jobs")
	if jobs == nil || jobs.Kind != yaml.MappingNode {
		return nil, nil
	}
	for i := 1; i < len(jobs.Content); i += 2 {
		job := jobs.Content[i]
		add(lookup(job, "uses"), false)
		if steps := lookup(job, "steps"); steps != nil && steps.Kind == yaml.SequenceNode {
			for _, s := range steps.Content {
				add(lookup(s, "uses"), true)
			}
		}
	}
	return out, nil
}

// lookup is a mapping's value for key, or nil.
func lookup(m *yaml.Node, key string) *yaml.Node {
	if m == nil || m.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	return nil
}

// checkPins reports the `uses:` of one workflow that are not pinned to a
// vendored version, and returns the replacements that make actionlint
// check each pinned step against its vendored metadata: spec -> local
// path of the scratch project.
func checkPins(name string, content []byte, opts Options, byRef map[string]Pin) ([]Problem, map[use]string, error) {
	us, err := uses(content)
	if err != nil {
		return nil, nil, err
	}
	var probs []Problem
	local := map[use]string{}
	bad := func(u use, format string, args ...any) {
		probs = append(probs, Problem{File: name, Line: u.line, Column: u.column, Source: "pin", Message: fmt.Sprintf(format, args...)})
	}
	for _, u := range us {
		action, ref, hasRef := strings.Cut(u.spec, "@")
		switch {
		case strings.HasPrefix(u.spec, "./"):
			continue
		case strings.HasPrefix(u.spec, "docker://"):
			if !strings.Contains(u.spec, "@sha256:") {
				bad(u, "%s: pin the image by digest (docker://image@sha256:...)", u.spec)
			}
			continue
		case opts.Self != "" && action == opts.Self:
			if !releaseTagRe.MatchString(ref) {
				bad(u, "%s: use a release tag (%s@vX.Y.Z) or pin the release's commit", u.spec, opts.Self)
			} else if u.step {
				local[u] = "./"
			}
			continue
		case !hasRef || !fullSHA.MatchString(ref):
			bad(u, "%s is not pinned: use %s@<full commit SHA> # vX.Y.Z", u.spec, action)
			continue
		}
		m := versionNote.FindStringSubmatch(u.comment)
		if m == nil {
			bad(u, "%s: say the version the SHA is in a line comment (# vX.Y.Z)", u.spec)
			continue
		}
		if !u.step {
			continue // a reusable workflow: the SHA pin is the rule
		}
		p, ok := byRef[action+"@"+ref]
		switch {
		case !ok:
			bad(u, "%s (%s) has no vendored metadata: add pinned/%s/action.yml from that commit", u.spec, m[1], pinPath(action, ref))
		case p.Version != m[1]:
			bad(u, "%s is %s, not %s: correct the comment", u.spec, p.Version, m[1])
		default:
			local[u] = "./.pinned/" + pinPath(action, ref)
		}
	}
	return probs, local, nil
}

// pinPath is where one version of an action lives under pinned/:
// owner/repo/<sha>[/path].
func pinPath(action, sha string) string {
	parts := strings.SplitN(action, "/", 3)
	if len(parts) < 3 {
		return action + "/" + sha
	}
	return parts[0] + "/" + parts[1] + "/" + sha + "/" + parts[2]
}
