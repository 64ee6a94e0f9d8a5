package actiontest

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"github.com/rhysd/actionlint"
	yaml "go.yaml.in/yaml/v3"
)

// Actionlint checks the pins of workflows and lints them with actionlint
// in a scratch project (under a temporary directory it removes): the
// workflows sit in its .github/workflows/, Root's action.yml at its top
// (for `uses: ./`), and each pinned action's vendored metadata in a local
// directory the step is pointed at, so actionlint checks the step's
// `with:` and the outputs read from it against what that commit
// declares. Problems come back sorted, with the callers' file names and
// the workflows' own lines.
func Actionlint(workflows []File, opts Options) ([]Problem, error) {
	pins, err := Pins()
	if err != nil {
		return nil, err
	}
	byRef := map[string]Pin{}
	for _, p := range pins {
		byRef[p.Action+"@"+p.SHA] = p
	}
	dir, err := os.MkdirTemp("", "workflowlint-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	wf := filepath.Join(dir, ".github", "workflows")
	if err := os.MkdirAll(wf, 0o755); err != nil {
		return nil, err
	}
	if opts.Root != "" {
		for _, name := range []string{"action.yml", "action.yaml"} {
			b, err := os.ReadFile(filepath.Join(opts.Root, name))
			if errors.Is(err, fs.ErrNotExist) {
				continue
			}
			if err != nil {
				return nil, err
			}
			if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
				return nil, err
			}
		}
	}
	var probs []Problem
	var files []string
	names := map[string]string{} // scratch path -> caller's name
	for i, w := range workflows {
		pp, local, err := checkPins(w.Name, w.Content, opts, byRef)
		if err != nil {
			probs = append(probs, Problem{File: w.Name, Source: "actionlint", Message: fmt.Sprintf("not YAML: %v", err)})
			continue
		}
		probs = append(probs, pp...)
		content := rewrite(w.Content, local)
		for u := range local {
			action, sha, _ := strings.Cut(u.spec, "@")
			if p, ok := byRef[action+"@"+sha]; ok {
				if err := placePin(dir, p); err != nil {
					return nil, err
				}
			}
		}
		f := filepath.Join(wf, scratchName(i, w.Name))
		if err := os.WriteFile(f, content, 0o644); err != nil {
			return nil, err
		}
		files = append(files, f)
		names[f] = w.Name
	}
	if len(files) == 0 {
		return probs, nil
	}
	l, err := actionlint.NewLinter(io.Discard, &actionlint.LinterOptions{Color: actionlint.ColorOptionKindNever, WorkingDir: dir})
	if err != nil {
		return nil, err
	}
	proj, err := actionlint.NewProject(dir)
	if err != nil {
		return nil, err
	}
	errs, err := l.LintFiles(files, proj)
	if err != nil {
		return nil, err
	}
	for _, e := range errs {
		f := e.Filepath
		if !filepath.IsAbs(f) {
			f = filepath.Join(dir, f)
		}
		name, ok := names[f]
		if !ok {
			name = e.Filepath
		}
		probs = append(probs, Problem{File: name, Line: e.Line, Column: e.Column, Source: "actionlint", Message: e.Kind + ": " + e.Message})
	}
	sort.SliceStable(probs, func(i, j int) bool {
		a, b := probs[i], probs[j]
		if a.File != b.File {
			return a.File < b.File
		}
		return a.Line < b.Line
	})
	return probs, nil
}

// rewrite points each replaced `uses:` at its local directory, on its own
// line, so the workflow keeps its line numbers.
func rewrite(content []byte, local map[use]string) []byte {
	if len(local) == 0 {
		return content
	}
	lines := bytes.SplitAfter(content, []byte("\n"))
	for u, to := range local {
		if i := u.line - 1; i >= 0 && i < len(lines) {
			lines[i] = bytes.Replace(lines[i], []byte(u.spec), []byte(to), 1)
		}
	}
	return bytes.Join(lines, nil)
}

// placePin writes a pinned action's metadata into the scratch project,
// with empty stand-ins for the scripts its runs section names (actionlint
// checks that they exist).
func placePin(dir string, p Pin) error {
	rel := path.Join(".pinned", pinPath(p.Action, p.SHA))
	actionDir := filepath.Join(dir, filepath.FromSlash(rel))
	if err := os.MkdirAll(actionDir, 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(actionDir, "action.yml"), p.Metadata, 0o644); err != nil {
		return err
	}
	var meta struct {
		Runs struct {
			Main string `yaml:"main"`
			Pre  string `yaml:"pre"`
			Post string `yaml:"post"`
		} `yaml:"runs"`
	}
	if err := yaml.Unmarshal(p.Metadata, &meta); err != nil {
		return fmt.Errorf("vendored metadata of %s@%s: %w", p.Action, p.SHA, err)
	}
	// The scripts may sit beside the action or above it (codeql-action's
	// upload-sarif runs ../lib/...), never outside the pinned commit.
	parts := strings.SplitN(p.Action, "/", 3)
	top := path.Join(".pinned", parts[0], parts[1], p.SHA)
	for _, s := range []string{meta.Runs.Main, meta.Runs.Pre, meta.Runs.Post} {
		if s == "" {
			continue
		}
		f := path.Join(rel, s)
		if f != top && !strings.HasPrefix(f, top+"/") {
			return fmt.Errorf("vendored metadata of %s@%s runs %s, outside the action", p.Action, p.SHA, s)
		}
		fp := filepath.Join(dir, filepath.FromSlash(f))
		if err := os.MkdirAll(filepath.Dir(fp), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(fp, nil, 0o644); err != nil {
			return err
		}
	}
	return nil
}
