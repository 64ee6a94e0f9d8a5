package finding

import "testing"

func TestSARIFText(t *testing.T) {
	for _, tt := range []struct{ msg, hint, want string }{
		{"containerPort 70000 is out of range [Deployment/shop/web]", "fix the field", "containerPort 70000 is out of range [Deployment/shop/web].\nHint: fix the field"},
		{"no USER set.", "add USER 65532", "no USER set.\nHint: add USER 65532"},
		{"no hint", "", "no hint"},
		{"", "only a hint", "\nHint: only a hint"},
	} {
		if got := sarifText(tt.msg, tt.hint); got != tt.want {
			t.Errorf("sarifText(%q, %q) = %q, want %q", tt.msg, tt.hint, got, tt.want)
		}
	}
}
