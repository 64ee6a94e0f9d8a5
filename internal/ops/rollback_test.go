package ops

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	gitobject "github.com/go-git/go-git/v5/plumbing/object"
)

// gitTreeAt is the TreeAt a job provides, over a go-git repository.
func gitTreeAt(repo *git.Repository) TreeAt {
	return func(_ context.Context, rev string) (fs.FS, error) {
		h, err := repo.ResolveRevision(plumbing.Revision(rev))
		if err != nil {
			return nil, err
		}
		c, err := repo.CommitObject(*h)
		if err != nil {
			return nil, err
		}
		files, err := c.Files()
		if err != nil {
			return nil, err
		}
		m := fstest.MapFS{}
		err = files.ForEach(func(f *gitobject.File) error {
			s, err := f.Contents()
			if err != nil {
				return err
			}
			m[f.Name] = &fstest.MapFile{Data: []byte(s), Mode: 0o644}
			return nil
		})
		return m, err
	}
}

// commitAll commits the work tree, at a fixed time so runs compare.
func commitAll(t *testing.T, repo *git.Repository, msg string, at int) plumbing.Hash {
	t.Helper()
	wt, err := repo.Worktree()
	if err != nil {
		t.Fatal(err)
	}
	if err := wt.AddWithOptions(&git.AddOptions{All: true}); err != nil {
		t.Fatal(err)
	}
	sig := &gitobject.Signature{Name: "dev", Email: "dev@example.com", When: time.Date(2025, 1, at, 12, 0, 0, 0, time.UTC)}
	h, err := wt.Commit(msg, &git.CommitOptions{Author: sig, Committer: sig})
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// applyOp plans and applies op, as a merged pull request would.
func applyOp(t *testing.T, dir string, op Operation) {
	t.Helper()
	p, err := planOn(t, dir, op, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Apply(dir); err != nil {
		t.Fatal(err)
	}
}

// TestRollback: history v1 → a commit that changes order-service (image,
// replicas, a new manifest) and product-service together → a commit that
// changes user-service. Rolling order-service back to v1 restores only
// order-service's files; the other services keep their changes. The image
// goes back to 0.1.0, and the ImagePolicy is pinned so Flux does not move
// it forward again.
func TestRollback(t *testing.T) {
	dir := fixture(t, nil)
	repo, err := git.PlainInit(dir, false)
	if err != nil {
		t.Fatal(err)
	}
	v1 := commitAll(t, repo, "v1", 1)
	if _, err := repo.CreateTag("v1", v1, nil); err != nil {
		t.Fatal(err)
	}
	before := validateTree(t, dir)

	applyOp(t, dir, Image{Service: "order-service", Ref: "0.2.0"})
	applyOp(t, dir, Scale{Service: "order-service", Replicas: 4})
	applyOp(t, dir, Scale{Service: "product-service", Replicas: 3})
	write(t, dir, "k8s/order-service/serviceaccount.yaml", "apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: order-service\n  namespace: order-service\nautomountServiceAccountToken: false\n")
	kust := filepath.Join(dir, "k8s", "order-service", "kustomization.yaml")
	b, err := os.ReadFile(kust)
	if err != nil {
		t.Fatal(err)
	}
	write(t, dir, "k8s/order-service/kustomization.yaml", strings.Replace(string(b), "- service.yaml\n", "- service.yaml\n- serviceaccount.yaml\n", 1))
	commitAll(t, repo, "order-service 0.2.0 and more replicas, product-service 3 replicas", 2)
	applyOp(t, dir, Resources{Service: "user-service", Memory: Quantities{Limit: "1536Mi"}})
	commitAll(t, repo, "user-service memory", 3)

	head := snapshot(t, dir)
	p, err := planOn(t, dir, Rollback{Service: "order-service", To: "v1"}, Options{TreeAt: gitTreeAt(repo)})
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "rollback", p)
	for _, f := range p.Files {
		if !strings.Contains(f.Path, "order-service") && f.Path != "gitops/apps/staging/kustomization.yaml" {
			t.Errorf("rollback of order-service changes %s", f.Path)
		}
	}
	mustContain(t, p.Summary, "image ghcr.io/acme/order-service:0.2.0 → ghcr.io/acme/order-service:0.1.0", "replicas 4 → 2")
	mustContain(t, strings.Join(p.Notes, "\n"), `Pinned the Flux ImagePolicy/flux-system/order-service`, "=0.1.0")
	applyAndValidate(t, dir, p, before)
	after := snapshot(t, dir)
	for path, data := range head {
		if strings.Contains(path, "product-service") || strings.Contains(path, "user-service") {
			if after[path] != data {
				t.Errorf("%s changed", path)
			}
		}
	}
	if _, ok := after["k8s/order-service/serviceaccount.yaml"]; ok {
		t.Error("the manifest added after v1 was not removed")
	}

	// The same by commit, and a revision that does not exist.
	if _, err := planOn(t, dir, Rollback{Service: "product-service", To: v1.String()}, Options{TreeAt: gitTreeAt(repo)}); err != nil {
		t.Errorf("rollback by commit: %v", err)
	}
	if _, err := planOn(t, dir, Rollback{Service: "product-service", To: "v9"}, Options{TreeAt: gitTreeAt(repo)}); err == nil || !strings.Contains(err.Error(), "read the repository at v9") {
		t.Errorf("rollback to a missing tag: %v", err)
	}
}

// snapshot reads every YAML file of the tree.
func snapshot(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && d.Name() == ".git" {
			return fs.SkipDir
		}
		if strings.HasSuffix(p, ".yaml") {
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			rel, _ := filepath.Rel(dir, p)
			out[filepath.ToSlash(rel)] = string(b)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}
