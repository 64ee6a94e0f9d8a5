package ops

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/pmezard/go-difflib/difflib"
	yaml "go.yaml.in/yaml/v3"

	"github.com/kubewright/kubewright/internal/draft"
	"github.com/kubewright/kubewright/internal/ops/metrics"
)

// Plan is what an operation will change and why: the data of the plan
// reply and of the pull request body, and the edited files. Planning
// writes nothing; Apply does.
type Plan struct {
	// Op is the operation's name ("scale") and Command its canonical
	// command line ("scale order-service 5").
	Op      string `json:"op"`
	Command string `json:"command"`
	Service string `json:"service"`
	// Summary is one sentence: what changes, from what to what.
	Summary string `json:"summary"`
	// Changes are the edits, one per field of each place that defines the
	// service, with the value before and after.
	Changes []Change `json:"changes"`
	// Notes are the decisions the operation took for the reviewer to
	// check (a PodDisruptionBudget lowered, an ImagePolicy pinned).
	Notes []string `json:"notes,omitempty"`
	// Warnings are risks the change carries that it did not resolve.
	Warnings []string `json:"warnings,omitempty"`
	// Undo says how to reverse the change after it is merged.
	Undo string `json:"undo"`
	// Evidence is the observed usage a right-sizing used (resources
	// --from-metrics), nil otherwise.
	Evidence *metrics.Recommendation `json:"evidence,omitempty"`
	// Files are the new contents of the changed files (Delete for removed
	// ones), in path order; Service and Part are set as for any draft.
	Files []draft.File `json:"files"`
	// base is each changed file's content when planned (nil: it did not
	// exist), so Apply refuses a tree that moved on.
	base map[string][]byte
}

// Change is one edited field.
type Change struct {
	File string `json:"file"`
	Line int    `json:"line,omitempty"`
	// Object is the edited object (Kind/namespace/name) or the
	// kustomization entry.
	Object string `json:"object"`
	Field  string `json:"field"`
	// From is the value before ("" when the field is added), To after
	// ("" when it is removed).
	From string `json:"from,omitempty"`
	To   string `json:"to,omitempty"`
	Why  string `json:"why,omitempty"`
}

// Apply writes the plan's files into the checkout at dir, under the
// default write policy. It refuses, writing nothing, when a file changed
// since the plan was made.
func (p *Plan) Apply(dir string) error {
	for _, f := range p.Files {
		cur, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(f.Path)))
		if err != nil && !os.IsNotExist(err) {
			return fmt.Errorf("apply %s: %w", p.Command, err)
		}
		if base := p.base[f.Path]; (err == nil) != (base != nil) || !bytes.Equal(cur, base) {
			return fmt.Errorf("apply %s: %s changed since the plan was made; plan again", p.Command, f.Path)
		}
	}
	if _, err := draft.Apply(dir, p.Files, draft.ApplyOptions{Force: true}); err != nil {
		return fmt.Errorf("apply %s: %w", p.Command, err)
	}
	return nil
}

// Diff is the unified diff of the plan's files.
func (p *Plan) Diff() string {
	var b strings.Builder
	for _, f := range p.Files {
		old := p.base[f.Path]
		from, to := "a/"+f.Path, "b/"+f.Path
		if old == nil {
			from = "/dev/null"
		}
		var now []byte
		if f.Delete {
			to = "/dev/null"
		} else {
			now = f.Content
		}
		d, _ := difflib.GetUnifiedDiffString(difflib.UnifiedDiff{
			A: splitLines(old), B: splitLines(now),
			FromFile: from, ToFile: to, Context: 3,
		})
		b.WriteString(d)
	}
	return b.String()
}

// splitLines splits text for a diff; no text is no lines.
func splitLines(b []byte) []string {
	if len(b) == 0 {
		return nil
	}
	lines := strings.SplitAfter(string(b), "\n")
	if lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	} else {
		lines[len(lines)-1] += "\n\\ No newline at end of file\n"
	}
	return lines
}

// Options are what some operations need besides the tree.
type Options struct {
	// Usage answers resources --from-metrics (a metrics.Client).
	Usage UsageSource
	// TreeAt returns the repository's tree at a revision, for rollback.
	TreeAt TreeAt
}

// UsageSource recommends requests and limits from a container's observed
// usage; *metrics.Client is one.
type UsageSource interface {
	Recommend(ctx context.Context, t metrics.Target) (*metrics.Recommendation, error)
}

// Plan plans op on the tree. It returns an *UnknownServiceError when the
// repository does not define the service, and other errors that name the
// file and line at fault and what to do.
func (r *Repo) Plan(ctx context.Context, op Operation, opts Options) (*Plan, error) {
	if err := op.validate(); err != nil {
		return nil, err
	}
	ws, err := r.find(op.service())
	if err != nil {
		return nil, err
	}
	e := &editor{repo: r, texts: map[string]*ytext{}, inline: map[*yaml.Node]*inlineText{}, created: map[string][]byte{}, deleted: map[string]bool{}, replaced: map[string][]byte{}}
	p := &Plan{Op: op.Name(), Command: op.String(), Service: ws[0].service, base: map[string][]byte{}}
	e.plan = p
	if err := op.plan(ctx, e, ws, opts); err != nil {
		return nil, err
	}
	if err := e.finish(); err != nil {
		return nil, err
	}
	if len(p.Files) == 0 && len(p.Changes) == 0 {
		return nil, fmt.Errorf("%s: nothing to change, %s already is as asked", p.Command, p.Service)
	}
	return p, nil
}

// editor collects the edits of one plan across files.
type editor struct {
	repo    *Repo
	plan    *Plan
	texts   map[string]*ytext
	inline  map[*yaml.Node]*inlineText
	created map[string][]byte
	deleted map[string]bool
	// replaced are whole-file contents (rollback); texts edits on top of
	// them are made on the replaced content.
	replaced map[string][]byte
}

// inlineText is an inline patch being edited inside a kustomization.
type inlineText struct {
	outer *ytext
	node  *yaml.Node
	text  *ytext
}

// open returns the file at path for editing.
func (e *editor) open(path string) (*ytext, error) {
	if t := e.texts[path]; t != nil {
		return t, nil
	}
	f := e.repo.file(path)
	if f == nil {
		return nil, fmt.Errorf("%s is not a YAML file kubewright read", path)
	}
	t := newText(path, f.data, f.docs)
	e.texts[path] = t
	return t, nil
}

// patchText returns the text of patch p for editing (its file, or its
// inline text inside the kustomization).
func (e *editor) patchText(p *patch) (*ytext, error) {
	if p.file != "" {
		return e.open(p.file)
	}
	if it := e.inline[p.inline]; it != nil {
		return it.text, nil
	}
	outer, err := e.open(p.k.file.path)
	if err != nil {
		return nil, err
	}
	it := &inlineText{outer: outer, node: p.inline, text: newText(p.where(), p.text, p.docs)}
	it.text.file, it.text.lineBase = p.k.file.path, p.inline.Line
	e.inline[p.inline] = it
	return it.text, nil
}

// change records one edited field.
func (e *editor) change(c Change) { e.plan.Changes = append(e.plan.Changes, c) }

// note and warn record a decision and a risk, once each.
func (e *editor) note(format string, args ...any) {
	e.plan.Notes = appendOnce(e.plan.Notes, fmt.Sprintf(format, args...))
}

func (e *editor) warn(format string, args ...any) {
	e.plan.Warnings = appendOnce(e.plan.Warnings, fmt.Sprintf(format, args...))
}

func appendOnce(list []string, s string) []string {
	for _, x := range list {
		if x == s {
			return list
		}
	}
	return append(list, s)
}

// create adds a new file.
func (e *editor) create(path string, data []byte) { e.created[path] = data }

// render renders every edit into whole files: path -> new content, nil
// for a removed file. It consumes the pending edits: call it once.
func (e *editor) render() (map[string][]byte, error) {
	var inl []*inlineText
	for _, it := range e.inline {
		inl = append(inl, it)
	}
	sort.Slice(inl, func(i, j int) bool { return inl[i].text.name < inl[j].text.name })
	for _, it := range inl {
		if !it.text.changed() {
			continue
		}
		out, err := it.text.render()
		if err != nil {
			return nil, err
		}
		if err := it.outer.setBlock(it.node, string(out)); err != nil {
			return nil, err
		}
	}
	files := map[string][]byte{}
	for p, data := range e.replaced {
		files[p] = data
	}
	for p, t := range e.texts {
		if !t.changed() {
			continue
		}
		out, err := t.render()
		if err != nil {
			return nil, err
		}
		files[p] = out
	}
	for p, data := range e.created {
		files[p] = data
	}
	for p := range e.deleted {
		files[p] = nil
	}
	e.texts, e.inline, e.created = map[string]*ytext{}, map[*yaml.Node]*inlineText{}, map[string][]byte{}
	e.replaced = files
	return files, nil
}

// finish renders every edit into the plan's files.
func (e *editor) finish() error {
	files, err := e.render()
	if err != nil {
		return err
	}
	var paths []string
	for p := range files {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	for _, p := range paths {
		var old []byte
		if f := e.repo.file(p); f != nil {
			old = f.data
		}
		if files[p] != nil && bytes.Equal(old, files[p]) || files[p] == nil && old == nil {
			continue
		}
		e.plan.base[p] = old
		e.plan.Files = append(e.plan.Files, draft.File{Path: p, Content: files[p], Delete: files[p] == nil,
			Service: e.plan.Service, Part: draft.PartOf(p)})
	}
	sortChanges(e.plan.Changes)
	return nil
}

// sortChanges orders changes by file and line.
func sortChanges(cs []Change) {
	sort.SliceStable(cs, func(i, j int) bool {
		if cs[i].File != cs[j].File {
			return cs[i].File < cs[j].File
		}
		return cs[i].Line < cs[j].Line
	})
}
