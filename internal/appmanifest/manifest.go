// Package appmanifest creates kubewright's GitHub App with GitHub's App
// manifest flow
// (https://docs.github.com/apps/sharing-github-apps/registering-a-github-app-from-a-manifest):
// it loads the manifest (deploy/github-app.yaml, YAML in the manifest's
// format), serves a page on a loopback address that posts it to GitHub's
// new-App page with a random state, takes GitHub's redirect back with the
// one-use code, exchanges the code for the App's ID, private key and
// secrets (POST /app-manifests/{code}/conversions), and writes them to
// files only the user can read, with an env file `kubewright serve` reads.
//
// It imports no other kubewright package but yamlsafe; internal/app wires
// it for `kubewright app create`.
package appmanifest

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"sort"
	"strings"
	"unicode/utf8"

	yaml "go.yaml.in/yaml/v3"

	"github.com/kubewright/kubewright/internal/yamlsafe"
)

// MaxManifestBytes caps the manifest file: a manifest is a few hundred
// bytes; 64 KiB leaves room for comments.
const MaxManifestBytes = 64 << 10

// maxNodes caps the manifest's YAML nodes with aliases expanded.
const maxNodes = 10_000

// MaxNameLength is GitHub's limit on an App's name.
const MaxNameLength = 34

// fieldKind is what a manifest field holds.
type fieldKind int

const (
	kindString fieldKind = iota
	kindURL
	kindBool
	kindStrings
	kindHook
	kindPermissions
)

// fields are the manifest's parameters as GitHub documents them; GitHub
// ignores any other, so an unknown key is a typo to report.
var fields = map[string]fieldKind{
	"name":                     kindString,
	"url":                      kindURL,
	"description":              kindString,
	"hook_attributes":          kindHook,
	"redirect_url":             kindURL,
	"callback_urls":            kindStrings,
	"setup_url":                kindURL,
	"public":                   kindBool,
	"default_events":           kindStrings,
	"default_permissions":      kindPermissions,
	"request_oauth_on_install": kindBool,
	"setup_on_update":          kindBool,
}

var hookFields = map[string]fieldKind{"url": kindURL, "active": kindBool}

// Manifest is a GitHub App manifest: every field of the file, checked for
// type, kept to be posted as JSON.
type Manifest struct {
	// File is the path the manifest was read from, for messages.
	File   string
	fields map[string]any
	lines  map[string]int // dotted field -> line in File
}

// Error is a manifest refused: the file, the line when known, the field,
// what is wrong and what to do.
type Error struct {
	File   string
	Line   int
	Field  string // dotted: hook_attributes.url; "" for the whole file
	Detail string
	Hint   string
}

func (e *Error) Error() string {
	loc := e.File
	if e.Line > 0 {
		loc = fmt.Sprintf("%s:%d", e.File, e.Line)
	}
	s := loc + ": "
	if e.Field != "" {
		s += e.Field + ": "
	}
	s += e.Detail
	if e.Hint != "" {
		s += "; " + e.Hint
	}
	return s
}

// Load reads and parses the manifest at path: a regular file of at most
// MaxManifestBytes.
func Load(path string) (*Manifest, error) {
	f, err := os.Open(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, &Error{File: path, Detail: "no such file",
				Hint: "run in kubewright's repository (the manifest is deploy/github-app.yaml) or pass --manifest FILE"}
		}
		return nil, fmt.Errorf("manifest %s: %w", path, err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("manifest %s: %w", path, err)
	}
	if !st.Mode().IsRegular() {
		return nil, &Error{File: path, Detail: "not a regular file", Hint: "pass the manifest's YAML file with --manifest"}
	}
	data, err := io.ReadAll(io.LimitReader(f, MaxManifestBytes+1))
	if err != nil {
		return nil, fmt.Errorf("manifest %s: %w", path, err)
	}
	if len(data) > MaxManifestBytes {
		return nil, &Error{File: path, Detail: fmt.Sprintf("larger than %d KiB", MaxManifestBytes>>10),
			Hint: "a GitHub App manifest is a few hundred bytes: check that --manifest names the manifest"}
	}
	return Parse(path, data)
}

// Parse parses a manifest in YAML (JSON is YAML too): one document, a
// mapping of GitHub's manifest fields, each of its type. Required fields
// are checked by Check, after flags have overridden them.
func Parse(file string, data []byte) (*Manifest, error) {
	docs, err := yamlsafe.Decode(file, data, yamlsafe.Limits{MaxBytes: MaxManifestBytes, MaxNodes: maxNodes})
	if err != nil {
		return nil, err
	}
	switch {
	case len(docs) == 0 || len(docs[0].Content) == 0:
		return nil, &Error{File: file, Detail: "the manifest is empty", Hint: "start from kubewright's deploy/github-app.yaml"}
	case len(docs) > 1:
		return nil, &Error{File: file, Line: docs[1].Line, Detail: "more than one YAML document", Hint: "keep the manifest alone in its file"}
	}
	root := deref(docs[0].Content[0])
	if root.Kind != yaml.MappingNode {
		return nil, &Error{File: file, Line: root.Line, Detail: "the manifest is not a mapping of fields",
			Hint: "write it as name:, url:, hook_attributes: ... (see deploy/github-app.yaml)"}
	}
	m := &Manifest{File: file, fields: map[string]any{}, lines: map[string]int{}}
	if err := m.mapping(root, "", fields, m.fields); err != nil {
		return nil, err
	}
	return m, nil
}

// mapping reads a mapping node whose keys must be in known.
func (m *Manifest) mapping(n *yaml.Node, prefix string, known map[string]fieldKind, into map[string]any) error {
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := deref(n.Content[i]), deref(n.Content[i+1])
		if k.Kind != yaml.ScalarNode || k.Tag == "!!merge" {
			return &Error{File: m.File, Line: k.Line, Field: strings.TrimSuffix(prefix, "."), Detail: "keys must be plain field names (no merge keys or nested keys)",
				Hint: "write the fields out"}
		}
		field := prefix + k.Value
		kind, ok := known[k.Value]
		if !ok {
			return &Error{File: m.File, Line: k.Line, Field: field, Detail: "not a field of GitHub's App manifest (GitHub would ignore it)",
				Hint: "use one of " + strings.Join(names(known), ", ")}
		}
		if _, dup := into[k.Value]; dup {
			return &Error{File: m.File, Line: k.Line, Field: field, Detail: "given twice", Hint: "keep one"}
		}
		m.lines[field] = k.Line
		val, err := m.value(v, field, kind)
		if err != nil {
			return err
		}
		into[k.Value] = val
	}
	return nil
}

// value reads one field's value as kind.
func (m *Manifest) value(n *yaml.Node, field string, kind fieldKind) (any, error) {
	bad := func(want string) error {
		return &Error{File: m.File, Line: n.Line, Field: field, Detail: "expected " + want, Hint: "see deploy/github-app.yaml for the format"}
	}
	switch kind {
	case kindString, kindURL:
		if n.Kind != yaml.ScalarNode || n.Tag != "!!str" {
			return nil, bad("a string")
		}
		return n.Value, nil
	case kindBool:
		var b bool
		if n.Kind != yaml.ScalarNode || n.Tag != "!!bool" || n.Decode(&b) != nil {
			return nil, bad("true or false")
		}
		return b, nil
	case kindStrings:
		if n.Kind != yaml.SequenceNode {
			return nil, bad("a list of strings")
		}
		out := make([]any, 0, len(n.Content))
		for _, it := range n.Content {
			it = deref(it)
			if it.Kind != yaml.ScalarNode || it.Tag != "!!str" {
				return nil, &Error{File: m.File, Line: it.Line, Field: field, Detail: "expected a list of strings", Hint: "quote the item or remove it"}
			}
			out = append(out, it.Value)
		}
		return out, nil
	case kindHook:
		if n.Kind != yaml.MappingNode {
			return nil, bad("a mapping with url: and active:")
		}
		hook := map[string]any{}
		return hook, m.mapping(n, field+".", hookFields, hook)
	case kindPermissions:
		if n.Kind != yaml.MappingNode {
			return nil, bad("a mapping of permission: read or write")
		}
		perms := map[string]any{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := deref(n.Content[i]), deref(n.Content[i+1])
			if k.Kind != yaml.ScalarNode || k.Tag == "!!merge" || k.Value == "" {
				return nil, &Error{File: m.File, Line: k.Line, Field: field, Detail: "keys must be permission names", Hint: "write the permissions out"}
			}
			if _, dup := perms[k.Value]; dup {
				return nil, &Error{File: m.File, Line: k.Line, Field: field + "." + k.Value, Detail: "given twice", Hint: "keep one"}
			}
			if v.Kind != yaml.ScalarNode || (v.Value != "read" && v.Value != "write" && v.Value != "admin") {
				return nil, &Error{File: m.File, Line: v.Line, Field: field + "." + k.Value, Detail: "expected read, write or admin",
					Hint: "give the least access kubewright needs (see the comment in deploy/github-app.yaml)"}
			}
			m.lines[field+"."+k.Value] = k.Line
			perms[k.Value] = v.Value
		}
		return perms, nil
	}
	return nil, bad("a known kind of value")
}

// deref follows an alias to its anchor (yamlsafe bounded their expansion).
func deref(n *yaml.Node) *yaml.Node {
	for i := 0; n.Kind == yaml.AliasNode && n.Alias != nil && i < maxNodes; i++ {
		n = n.Alias
	}
	return n
}

func names(known map[string]fieldKind) []string {
	out := make([]string, 0, len(known))
	for k := range known {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// Name is the App's name ("" when not set).
func (m *Manifest) Name() string { s, _ := m.fields["name"].(string); return s }

// WebhookURL is hook_attributes.url ("" when not set).
func (m *Manifest) WebhookURL() string {
	hook, _ := m.fields["hook_attributes"].(map[string]any)
	s, _ := hook["url"].(string)
	return s
}

// SetName overrides the name (--name).
func (m *Manifest) SetName(name string) {
	m.fields["name"] = name
	delete(m.lines, "name")
}

// SetWebhookURL overrides hook_attributes.url (--webhook-url).
func (m *Manifest) SetWebhookURL(u string) {
	hook, _ := m.fields["hook_attributes"].(map[string]any)
	if hook == nil {
		hook = map[string]any{}
		m.fields["hook_attributes"] = hook
	}
	hook["url"] = u
	delete(m.lines, "hook_attributes.url")
}

// Check reports what GitHub would refuse, or what would make an App
// kubewright cannot use: a missing or over-long name, a homepage or
// webhook URL that is not absolute http(s), the example webhook host, an
// inactive webhook.
func (m *Manifest) Check() error {
	name := m.Name()
	switch {
	case strings.TrimSpace(name) == "":
		return m.fail("name", "missing", "set name: in the file or pass --name")
	case utf8.RuneCountInString(name) > MaxNameLength:
		return m.fail("name", fmt.Sprintf("%d characters, GitHub allows at most %d", utf8.RuneCountInString(name), MaxNameLength), "choose a shorter name (--name)")
	}
	if err := m.checkURL("url", m.fields["url"], "set url: to the App's homepage (kubewright's repository will do)"); err != nil {
		return err
	}
	hookHint := "set hook_attributes.url in the file or pass --webhook-url https://<your host>/webhook"
	if _, ok := m.fields["hook_attributes"]; !ok {
		return m.fail("hook_attributes.url", "missing", hookHint)
	}
	hook := m.fields["hook_attributes"].(map[string]any)
	if err := m.checkURL("hook_attributes.url", hook["url"], hookHint); err != nil {
		return err
	}
	if u, _ := url.Parse(m.WebhookURL()); isExampleHost(u.Hostname()) {
		return m.fail("hook_attributes.url", fmt.Sprintf("%s is the example address", m.WebhookURL()),
			"pass --webhook-url https://<your host>/webhook, the address your deployment is reachable at")
	}
	if active, ok := hook["active"].(bool); ok && !active {
		return m.fail("hook_attributes.active", "false: kubewright works from webhook deliveries", "set it to true or remove it")
	}
	for _, f := range []string{"redirect_url", "setup_url"} {
		if v, ok := m.fields[f]; ok {
			if err := m.checkURL(f, v, "use an absolute http(s) URL or remove it"); err != nil {
				return err
			}
		}
	}
	return nil
}

func (m *Manifest) checkURL(field string, v any, hint string) error {
	s, _ := v.(string)
	if s == "" {
		return m.fail(field, "missing", hint)
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil {
		return m.fail(field, fmt.Sprintf("%q is not an absolute http(s) URL", s), hint)
	}
	return nil
}

func (m *Manifest) fail(field, detail, hint string) error {
	return &Error{File: m.File, Line: m.lines[field], Field: field, Detail: detail, Hint: hint}
}

// isExampleHost reports the domains reserved for examples (RFC 2606),
// which the shipped manifest uses as a placeholder.
func isExampleHost(host string) bool {
	host = strings.TrimSuffix(strings.ToLower(host), ".")
	for _, d := range []string{"example.com", "example.net", "example.org"} {
		if host == d || strings.HasSuffix(host, "."+d) {
			return true
		}
	}
	return false
}

// JSON is the manifest as GitHub's form takes it, with redirect_url set to
// redirect (where GitHub sends the code).
func (m *Manifest) JSON(redirect string) ([]byte, error) {
	out := make(map[string]any, len(m.fields)+1)
	for k, v := range m.fields {
		out[k] = v
	}
	out["redirect_url"] = redirect
	data, err := json.Marshal(out)
	if err != nil {
		return nil, fmt.Errorf("%s: encode the manifest as JSON: %w", m.File, err)
	}
	return data, nil
}

// Events are default_events.
func (m *Manifest) Events() []string {
	list, _ := m.fields["default_events"].([]any)
	out := make([]string, 0, len(list))
	for _, e := range list {
		out = append(out, e.(string))
	}
	return out
}

// Permissions are default_permissions.
func (m *Manifest) Permissions() map[string]string {
	perms, _ := m.fields["default_permissions"].(map[string]any)
	out := make(map[string]string, len(perms))
	for k, v := range perms {
		out[k] = v.(string)
	}
	return out
}
