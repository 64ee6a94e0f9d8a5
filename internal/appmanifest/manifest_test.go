package appmanifest

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/kubewright/kubewright/internal/yamlsafe"
)

// shipped is the repository's manifest.
var shipped = filepath.Join("..", "..", "deploy", "github-app.yaml")

const validYAML = `name: kubewright
url: https://github.com/kubewright/kubewright
hook_attributes:
  url: https://kw.acme.test/webhook
default_permissions:
  contents: write
default_events: [issue_comment]
`

func TestManifestParseAndCheck(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		// parse or check error: every substring must be in it ("" = none).
		want []string
	}{
		{"valid", validYAML, nil},
		{"json is yaml", `{"name":"kw","url":"https://a.test","hook_attributes":{"url":"https://b.test/webhook"}}`, nil},
		{"anchors", "x: &u https://kw.acme.test/webhook\n", []string{"m.yaml:1", "x: not a field"}},
		{"missing name", "url: https://a.test\nhook_attributes: {url: https://b.test/webhook}\n", []string{"m.yaml", "name: missing", "--name"}},
		{"blank name", "name: '  '\nurl: https://a.test\nhook_attributes: {url: https://b.test/webhook}\n", []string{"m.yaml:1", "name: missing"}},
		{"long name", "name: " + strings.Repeat("k", 35) + "\nurl: https://a.test\nhook_attributes: {url: https://b.test/webhook}\n", []string{"m.yaml:1", "35 characters", "at most 34"}},
		{"missing hook", "name: kw\nurl: https://a.test\n", []string{"m.yaml", "hook_attributes.url: missing", "--webhook-url"}},
		{"missing hook url", "name: kw\nurl: https://a.test\nhook_attributes: {active: true}\n", []string{"m.yaml", "hook_attributes.url: missing", "--webhook-url"}},
		{"relative hook url", "name: kw\nurl: https://a.test\nhook_attributes: {url: /webhook}\n", []string{"m.yaml:3", "hook_attributes.url", "not an absolute http(s) URL"}},
		{"example hook host", "name: kw\nurl: https://a.test\nhook_attributes: {url: https://kubewright.example.com/webhook}\n", []string{"m.yaml:3", "example address", "--webhook-url"}},
		{"inactive hook", "name: kw\nurl: https://a.test\nhook_attributes: {url: https://b.test/w, active: false}\n", []string{"hook_attributes.active", "webhook deliveries"}},
		{"missing homepage", "name: kw\nhook_attributes: {url: https://b.test/webhook}\n", []string{"m.yaml", "url: missing"}},
		{"typo", "name: kw\ndefault_event: [issues]\n", []string{"m.yaml:2", "default_event: not a field", "default_events"}},
		{"hook typo", "name: kw\nhook_attributes: {uri: https://b.test}\n", []string{"m.yaml:2", "hook_attributes.uri: not a field"}},
		{"name not a string", "name: 12\n", []string{"m.yaml:1", "name: expected a string"}},
		{"events not a list", "default_events: issues\n", []string{"default_events: expected a list of strings"}},
		{"event not a string", "default_events: [issues, [x]]\n", []string{"m.yaml:1", "expected a list of strings"}},
		{"permission level", "default_permissions: {contents: all}\n", []string{"default_permissions.contents", "read, write or admin"}},
		{"permissions a string", "default_permissions: write-all\n", []string{"default_permissions: expected a mapping"}},
		{"public not a bool", "public: maybe\n", []string{"public: expected true or false"}},
		{"duplicate", "name: a\nname: b\n", []string{"m.yaml:2", "name: given twice"}},
		{"merge key", "base: &b {name: kw}\n", []string{"base: not a field"}},
		{"merge into hook", "hook_attributes:\n  <<: {url: https://b.test}\n", []string{"m.yaml:2", "merge keys"}},
		{"two documents", validYAML + "---\nname: other\n", []string{"m.yaml:8", "more than one YAML document"}},
		{"list", "- name: kw\n", []string{"m.yaml:1", "not a mapping"}},
		{"empty", "", []string{"m.yaml", "empty"}},
		{"comment only", "# nothing\n", []string{"m.yaml", "empty"}},
		{"bad yaml", "name: [\n", []string{"m.yaml", "not valid YAML"}},
		{"bomb", "a: &a [x,x,x,x,x,x,x,x,x,x]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c,*c]\n", []string{"m.yaml", "alias"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := Parse("m.yaml", []byte(tt.yaml))
			if err == nil {
				err = m.Check()
			}
			if tt.want == nil {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("no error; want one with %q", tt.want)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

// The bomb is refused by the alias budget, not by the unknown field.
func TestManifestAliasBudget(t *testing.T) {
	bomb := "a: &a [x,x,x,x,x,x,x,x,x,x]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c,*c]\n"
	_, err := Parse("m.yaml", []byte(bomb))
	if !errors.Is(err, yamlsafe.ErrAliasBudget) {
		t.Fatalf("err = %v, want the alias budget", err)
	}
	_, err = Parse("m.yaml", []byte(validYAML+"# "+strings.Repeat("x", MaxManifestBytes)+"\n"))
	if !errors.Is(err, yamlsafe.ErrTooLarge) {
		t.Fatalf("err = %v, want the size cap", err)
	}
}

// Flags override the name and the webhook URL, and JSON carries every
// field with redirect_url replaced.
func TestManifestOverridesAndJSON(t *testing.T) {
	m, err := Parse("m.yaml", []byte("name: kw\nurl: https://a.test\nredirect_url: http://127.0.0.1:8765/callback\npublic: false\ndefault_events: [issues]\n"))
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Check(); err == nil || !strings.Contains(err.Error(), "hook_attributes.url: missing") {
		t.Fatalf("Check before the override = %v", err)
	}
	m.SetName("kw-staging")
	m.SetWebhookURL("https://kw.acme.test/webhook")
	if err := m.Check(); err != nil {
		t.Fatal(err)
	}
	data, err := m.JSON("http://127.0.0.1:4321/callback")
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(data, &got); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"name": "kw-staging", "url": "https://a.test", "redirect_url": "http://127.0.0.1:4321/callback",
		"public": false, "default_events": []any{"issues"},
		"hook_attributes": map[string]any{"url": "https://kw.acme.test/webhook"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("JSON = %v\nwant %v", got, want)
	}
}

// The shipped manifest: least privilege, the events serve acts on, and the
// placeholder webhook refused until --webhook-url replaces it.
func TestManifestShipped(t *testing.T) {
	m, err := Load(shipped)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Check(); err == nil || !strings.Contains(err.Error(), "github-app.yaml") || !strings.Contains(err.Error(), "--webhook-url") {
		t.Errorf("the placeholder webhook passed Check: %v", err)
	}
	m.SetWebhookURL("https://kw.acme.test/webhook")
	if err := m.Check(); err != nil {
		t.Fatal(err)
	}
	events := m.Events()
	slices.Sort(events)
	if want := []string{"issue_comment", "issues", "pull_request"}; !slices.Equal(events, want) {
		t.Errorf("default_events = %v, want %v", events, want)
	}
	wantPerms := map[string]string{"contents": "write", "pull_requests": "write", "issues": "write", "checks": "write", "metadata": "read", "members": "read"}
	if got := m.Permissions(); !reflect.DeepEqual(got, wantPerms) {
		t.Errorf("default_permissions = %v, want exactly %v (least privilege: a new one needs a reason in the file's comment)", got, wantPerms)
	}
	if m.Name() == "" || m.Name() != "kubewright" {
		t.Errorf("name = %q", m.Name())
	}
}

func TestManifestLoadRefuses(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "nope.yaml")
	big := filepath.Join(dir, "big.yaml")
	if err := os.WriteFile(big, []byte(strings.Repeat("#", MaxManifestBytes+1)), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		path string
		want []string
	}{
		{missing, []string{missing, "no such file", "--manifest"}},
		{dir, []string{dir, "not a regular file"}},
		{big, []string{big, "larger than 64 KiB"}},
	} {
		_, err := Load(tt.path)
		for _, w := range tt.want {
			if err == nil || !strings.Contains(err.Error(), w) {
				t.Errorf("Load(%s) = %v, want %q in it", tt.path, err, w)
			}
		}
	}
}
