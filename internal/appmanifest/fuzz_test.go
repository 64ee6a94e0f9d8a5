package appmanifest

import (
	"encoding/json"
	"os"
	"testing"
)

// FuzzManifestParse: the loader takes a local file, but whatever it holds
// it ends in a manifest or an error naming the file, never a panic, and
// a manifest that passes Check always encodes to the JSON object GitHub's
// form takes, with the redirect set.
func FuzzManifestParse(f *testing.F) {
	if data, err := os.ReadFile(shipped); err == nil {
		f.Add(data)
	}
	f.Add([]byte(validYAML))
	f.Add([]byte("name: &n kw\nurl: *n\nhook_attributes: {url: *n}\n"))
	f.Add([]byte("default_permissions: {contents: write, <<: {a: read}}\n"))
	f.Add([]byte("--- \n...\n---\nname: x\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := Parse("m.yaml", data)
		if err != nil {
			if m != nil {
				t.Fatal("a manifest and an error")
			}
			return
		}
		_ = m.Events()
		_ = m.Permissions()
		if m.Check() != nil {
			return
		}
		out, err := m.JSON("http://127.0.0.1:1/callback")
		if err != nil {
			t.Fatalf("a checked manifest does not encode: %v", err)
		}
		var back map[string]any
		if err := json.Unmarshal(out, &back); err != nil {
			t.Fatalf("JSON does not decode: %v", err)
		}
		if back["redirect_url"] != "http://127.0.0.1:1/callback" || back["name"] != m.Name() {
			t.Fatalf("JSON lost the redirect or the name: %s", out)
		}
	})
}
