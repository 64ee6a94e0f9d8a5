// Command gen writes internal/crds/crds.json.gz, the CRD set kubewright
// embeds, from a CRD collection (`make crds`):
//
//	go run ./internal/crds/gen -src ../shared/crds -out internal/crds/crds.json.gz
//
// It prints the CRDs it kept and left out, and the sizes.
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/kubewright/kubewright/internal/crds/crdgen"
)

func main() {
	src := flag.String("src", "../shared/crds", "directory of CRD YAML files (walked recursively)")
	out := flag.String("out", filepath.Join("internal", "crds", "crds.json.gz"), "file to write")
	flag.Parse()
	if err := run(*src, *out); err != nil {
		fmt.Fprintln(os.Stderr, "crds:", err)
		os.Exit(1)
	}
}

func run(src, out string) error {
	g, err := crdgen.Generate(src)
	if err != nil {
		return err
	}
	z, err := crdgen.Compress(g.JSON)
	if err != nil {
		return err
	}
	tmp := out + ".tmp"
	if err := os.WriteFile(tmp, z, 0o644); err != nil {
		return err
	}
	if err := os.Rename(tmp, out); err != nil {
		return err
	}
	for _, name := range g.Skipped {
		fmt.Printf("crds: left out %s (group not carried)\n", name)
	}
	fmt.Printf("crds: %s: %d CRDs, %d bytes (%d uncompressed), sha256 %s\n", out, g.Count, len(z), len(g.JSON), g.Digest())
	return nil
}
