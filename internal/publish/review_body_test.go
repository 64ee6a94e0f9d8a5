package publish

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kubewright/kubewright/internal/finding"
)

// The review's texts, byte for byte: a first review with a suggestion, a
// patch and a finding without a fix; a later push; a clean pull request.
func TestReviewTextsGolden(t *testing.T) {
	priv := finding.Finding{ID: "KW-POL-003", Severity: finding.Error, Stage: "policy", File: "k8s/cart.yaml", Line: 41,
		Object: "Deployment/shop/cart", Message: `container "cart" is privileged; ping @octocat`, Hint: "remove privileged: true"}
	latest := finding.Finding{ID: "KW-POL-014", Severity: finding.Warning, Stage: "policy", File: "k8s/cart.yaml", Line: 24,
		Object: "Deployment/shop/cart", Message: `container "sidecar" uses the mutable tag :latest`}
	ignore := finding.Finding{ID: "KW-DOCKER-015", Severity: finding.Warning, Stage: "dockerfile", File: "cart/Dockerfile", Line: 7,
		Message: "COPY . copies secret files (.env) into the image"}
	cases := map[string]string{
		"review-comment-suggestion.md": FindingComment(CommentView{Findings: []finding.Finding{priv}, FixTitle: "drop privileged: true",
			Suggestion: "```suggestion\n          securityContext:\n            allowPrivilegeEscalation: false\n```\n"}),
		"review-comment-patch.md": FindingComment(CommentView{Findings: []finding.Finding{ignore}, FixTitle: "add .env to cart/.dockerignore",
			Patch: "--- /dev/null\n+++ cart/.dockerignore\n@@ -0,0 +1 @@\n+.env\n", FixNote: "the build context is cart/"}),
		"review-comment-nofix.md": FindingComment(CommentView{Findings: []finding.Finding{latest}, Unfixable: "no tag of this image is pinned elsewhere in the file"}),
		"review-body-first.md": ReviewBody(ReviewView{Head: "0123456789abcdef", Introduced: []finding.Finding{priv, latest, ignore},
			Fixed: []finding.Finding{{ID: "KW-POL-010", Severity: finding.Warning, Message: "no resource requests"}}, Kept: 2,
			FluxDiff: "<details>\n<summary>What Flux will change: 0 added, 1 changed, 0 removed in 1 of 1 root</summary>\n\n…\n</details>\n",
			Risks:    []string{"the new sidecar shares the pod's network namespace"}, Settings: "settings from .github/kubewright.yaml on main"}),
		"review-body-push.md": ReviewBody(ReviewView{Head: "fedcba9876543210", Introduced: []finding.Finding{latest}, Repeated: 1,
			Since: &ReviewSince{Head: "0123456789abcdef", New: 0, Resolved: 2}, Settings: "settings from .github/kubewright.yaml on main"}),
		"review-body-clean.md": ReviewBody(ReviewView{Head: "aaaaaaaaaaaaaaaa"}),
	}
	for name, got := range cases {
		t.Run(name, func(t *testing.T) {
			if strings.Contains(got, "@octocat") {
				t.Error("a mention survived")
			}
			golden := filepath.Join("testdata", name)
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with -update)", err)
			}
			if got != string(want) {
				t.Errorf("%s differs (run with -update and read the diff):\n%s", golden, got)
			}
		})
	}
}
