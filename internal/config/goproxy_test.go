package config

import (
	"strings"
	"testing"
)

func TestGoProxySetting(t *testing.T) {
	cases := []struct {
		value string
		err   string // "" when valid
	}{
		{"", ""},
		{"off", ""},
		{"https://proxy.golang.org", ""},
		{"https://proxy.internal.example,https://proxy.golang.org|direct", ""},
		{"file:///var/cache/goproxy", ""},
		{"direct", "names no module proxy"},
		{"git.example.com", "is no module proxy URL"},
		{"https://proxy.golang.org,off", "stands alone"},
	}
	base := func(getenv map[string]string) func(string) string {
		return func(k string) string { return getenv[k] }
	}
	for _, tc := range cases {
		t.Run(tc.value, func(t *testing.T) {
			s, err := ServerDefaults(base(map[string]string{"KUBEWRIGHT_GOPROXY": tc.value}))
			if err != nil {
				t.Fatal(err)
			}
			if s.GoProxy != tc.value {
				t.Errorf("GoProxy = %q, want %q", s.GoProxy, tc.value)
			}
			err = CheckGoProxy(s.GoProxy)
			if (err == nil) != (tc.err == "") || err != nil && !strings.Contains(err.Error(), tc.err) {
				t.Fatalf("CheckGoProxy(%q) = %v, want %q", tc.value, err, tc.err)
			}
			if tc.err != "" && !strings.Contains(s.Check().Error(), "--go-proxy / KUBEWRIGHT_GOPROXY") {
				t.Errorf("Check does not name the setting: %v", s.Check())
			}
		})
	}
}
