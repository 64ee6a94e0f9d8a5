package review

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kubewright/kubewright/internal/config"
	"github.com/kubewright/kubewright/internal/validate/suite"
)

// A head that moves the Deployment down two lines, bumps its image and
// replicas and makes its container privileged: only the privileged
// container is introduced (moved findings are not new), it carries a
// committable fix, and the Flux diff shows the image and replica change.
func TestAssemble(t *testing.T) {
	ctx := context.Background()
	opts := suite.Options{Config: &config.Repo{}} // the default branch's settings, the same for both sides
	base, err := suite.Validate(ctx, filepath.Join("testdata", "assemble", "base"), opts)
	if err != nil {
		t.Fatal(err)
	}
	headDir := filepath.Join("testdata", "assemble", "head")
	head, err := suite.Validate(ctx, headDir, opts)
	if err != nil {
		t.Fatal(err)
	}
	root, err := os.OpenRoot(headDir)
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	r := Assemble(Sides{Base: base, Head: head, HeadFS: root.FS()})

	var ids []string
	for _, f := range r.Delta.Introduced {
		ids = append(ids, f.ID)
	}
	if strings.Join(ids, ",") != "KW-POL-003" {
		t.Fatalf("introduced %v, want only KW-POL-003 (base findings: %v)", r.Delta.Introduced, base.Findings)
	}
	if len(r.Comments) != 1 {
		t.Fatalf("comments %+v", r.Comments)
	}
	c := r.Comments[0]
	if c.Path != "k8s/deployment.yaml" || c.Fix == nil || c.Key == "" || c.Line == 0 {
		t.Fatalf("comment %+v", c)
	}
	if s, ok := c.Fix.Suggestion(); !ok || strings.Contains(s, "privileged: true") {
		t.Errorf("suggestion %q", s)
	}
	md := r.Diff.Markdown(RenderOptions{})
	for _, want := range []string{"1 changed", "ghcr.io/acme/cart", "1.4.2", "1.5.0", "replicas"} {
		if !strings.Contains(md, want) {
			t.Errorf("flux diff lacks %q:\n%s", want, md)
		}
	}
	// Unchanged findings keep their key across pushes.
	again := Assemble(Sides{Base: base, Head: head, HeadFS: root.FS()})
	if again.Comments[0].Key != c.Key {
		t.Error("comment key is not stable")
	}
}
