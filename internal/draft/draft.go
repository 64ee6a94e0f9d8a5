// Package draft is what an author proposes and how it lands: proposed
// files (File, Draft), the write policy that decides which paths may be
// written (Policy), Apply, which writes a draft into a directory under
// that policy, and Stage, a private copy of a repository where a job
// applies drafts and model edits, validates them, and reads back the
// change. It is a leaf: authors, the job and the CLI share it, and it
// imports no other kubewright package.
package draft

import (
	"path"
	"sort"
	"strings"
)

// Parts a file can belong to (and an author can be limited to).
const (
	PartDockerfile = "dockerfile"
	PartK8s        = "k8s"
	PartGitops     = "gitops"
)

// File is one proposed file.
type File struct {
	// Path is slash-separated and relative to the repository root.
	Path    string `json:"path"`
	Content []byte `json:"-"`
	// Service names the service the file belongs to ("" for shared files).
	Service string `json:"service,omitempty"`
	// Part is PartDockerfile, PartK8s or PartGitops (empty for other
	// files, such as an agent's service code).
	Part string `json:"part"`
	// Delete removes the file instead of writing Content.
	Delete bool `json:"delete,omitempty"`
}

// Draft is an author's proposal.
type Draft struct {
	Files       []File   `json:"files"`
	Assumptions []string `json:"assumptions,omitempty"`
}

// Sort orders files by path so drafts compare and print deterministically.
func (d *Draft) Sort() {
	sort.Slice(d.Files, func(i, j int) bool { return d.Files[i].Path < d.Files[j].Path })
}

// PartOf is the part a repository path belongs to by its place: k8s/,
// gitops/, or a Dockerfile or .dockerignore anywhere; "" for the rest.
func PartOf(p string) string {
	top, _, _ := strings.Cut(p, "/")
	base := path.Base(p)
	switch {
	case top == "k8s":
		return PartK8s
	case top == "gitops":
		return PartGitops
	case base == "Dockerfile" || strings.HasPrefix(base, "Dockerfile.") || base == ".dockerignore":
		return PartDockerfile
	}
	return ""
}
