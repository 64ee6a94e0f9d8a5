package prompts

import (
	"bytes"
	"embed"
	"fmt"
	"io/fs"
	"sort"
	"strconv"
	"strings"
	"sync"
	"text/template"

	"github.com/kubewright/kubewright/internal/llm"
)

//go:embed *.md
var files embed.FS

// sharedPrefix marks files that hold partials rather than an agent.
const sharedPrefix = "_"

// Agents returns the agent names, sorted: the embedded *.md files without
// their extension, partials (files starting with "_") excluded.
func Agents() []string {
	names, err := fs.Glob(files, "*.md")
	if err != nil { // only for a malformed pattern
		panic(err)
	}
	var agents []string
	for _, n := range names {
		if strings.HasPrefix(n, sharedPrefix) {
			continue
		}
		agents = append(agents, strings.TrimSuffix(n, ".md"))
	}
	sort.Strings(agents)
	return agents
}

// Render renders an agent's system and user messages from d. Free text
// from people (Intent, Issue) is sanitized, then fenced; everything else
// from the repository (Model, Conventions, Draft, Files, the findings'
// text, Diff) is fenced. The output depends on d only.
func Render(agent string, d Data) (system, user string, err error) {
	set, err := parsed()
	if err != nil {
		return "", "", err
	}
	t, ok := set[agent]
	if !ok {
		return "", "", fmt.Errorf("prompts: unknown agent %q: use one of %s", agent, strings.Join(Agents(), ", "))
	}
	if system, err = execute(t, "system", d); err != nil {
		return "", "", fmt.Errorf("prompts: render %s: %w", agent, err)
	}
	if user, err = execute(t, "user", d); err != nil {
		return "", "", fmt.Errorf("prompts: render %s: %w", agent, err)
	}
	return system, user, nil
}

func execute(t *template.Template, name string, d Data) (string, error) {
	var b bytes.Buffer
	if err := t.ExecuteTemplate(&b, name, d); err != nil {
		return "", err
	}
	return strings.TrimSpace(b.String()), nil
}

// parsed parses every agent's file together with the partials, once. Each
// agent gets its own template set, so all of them can define "system" and
// "user".
var parsed = sync.OnceValues(func() (map[string]*template.Template, error) {
	shared, err := fs.Glob(files, sharedPrefix+"*.md")
	if err != nil {
		return nil, err
	}
	set := map[string]*template.Template{}
	for _, agent := range Agents() {
		patterns := append(append([]string(nil), shared...), agent+".md")
		t, err := template.New(agent).Option("missingkey=error").Funcs(funcs).ParseFS(files, patterns...)
		if err != nil {
			return nil, fmt.Errorf("prompts: parse %s: %w", agent, err)
		}
		for _, name := range []string{"system", "user"} {
			if t.Lookup(name) == nil {
				return nil, fmt.Errorf("prompts: %s.md does not define %q", agent, name)
			}
		}
		set[agent] = t
	}
	return set, nil
})

var funcs = template.FuncMap{
	"fence":    fence,
	"sanitize": llm.Sanitize,
	"join":     func(elems []string, sep string) string { return strings.Join(elems, sep) },
	"findings": findingLines,
}

// fence is llm.Fence of content without its final line break: Fence puts
// one before the closing line anyway, and a file's trailing newline would
// otherwise show as a blank last line the model might copy.
func fence(label, content string) string {
	return llm.Fence(label, strings.TrimSuffix(content, "\n"))
}

// findingLines renders findings one per line as
// "file:line ID severity: message — hint", in order.
func findingLines(list []Finding) string {
	var b strings.Builder
	for i, f := range list {
		if i > 0 {
			b.WriteByte('\n')
		}
		loc := f.File
		if loc == "" {
			loc = "(repository)"
		}
		if f.Line > 0 {
			loc += ":" + strconv.Itoa(f.Line)
		}
		b.WriteString(loc + " " + f.ID + " " + f.Severity + ": " + f.Message)
		if f.Hint != "" {
			b.WriteString(" — " + f.Hint)
		}
	}
	return b.String()
}
