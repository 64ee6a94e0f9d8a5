package jobpage

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"html/template"
	"io/fs"
	"strconv"
	"strings"
	"time"
)

//go:embed templates/page.html
var templatesFS embed.FS

//go:embed static/page.css static/page.js static/mermaid/mermaid.min.js.gz static/mermaid/LICENSE static/mermaid/THIRD_PARTY_NOTICES
var staticFS embed.FS

var pageTemplates = template.Must(template.New("").ParseFS(templatesFS, "templates/page.html"))

// asset is one static file: its bytes, or for a gzipped one those
// gzipped bytes; its type and a version for cache busting.
type asset struct {
	body, gz    []byte
	contentType string
	version     string
}

// assets are the static files, read once.
type assets map[string]*asset

// loadAssets reads the embedded static files. mermaid.min.js is stored
// gzipped (1.6 MB instead of 5.7 MB) and served as such to browsers that
// take gzip (all of them); others get it decompressed as it is sent.
func loadAssets() (assets, error) {
	out := assets{}
	for name, file := range map[string]struct{ path, typ string }{
		"page.css":                        {"static/page.css", "text/css; charset=utf-8"},
		"page.js":                         {"static/page.js", "text/javascript; charset=utf-8"},
		"mermaid.min.js":                  {"static/mermaid/mermaid.min.js.gz", "text/javascript; charset=utf-8"},
		"mermaid-LICENSE.txt":             {"static/mermaid/LICENSE", "text/plain; charset=utf-8"},
		"mermaid-THIRD_PARTY_NOTICES.txt": {"static/mermaid/THIRD_PARTY_NOTICES", "text/plain; charset=utf-8"},
	} {
		data, err := fs.ReadFile(staticFS, file.path)
		if err != nil {
			return nil, err
		}
		a := &asset{contentType: file.typ, body: data}
		if strings.HasSuffix(file.path, ".gz") {
			if _, err := gzip.NewReader(bytes.NewReader(data)); err != nil {
				return nil, fmt.Errorf("%s: %w", file.path, err)
			}
			a.body, a.gz = nil, data
		}
		sum := sha256.Sum256(data)
		a.version = hex.EncodeToString(sum[:6])
		out[name] = a
	}
	return out, nil
}

func (as assets) url(name string) string { return "/jobs/static/" + name + "?v=" + as[name].version }

// staticURLs are the page's references to its static files.
type staticURLs struct{ CSS, JS, Mermaid string }

// pageView is what the page template reads.
type pageView struct {
	Title   string
	R       Record
	PR      string // the pull request link, "" unless http(s)
	Updated string
	Diff    []diffLine
	Login   string
	Static  staticURLs
}

// problemView is an error page.
type problemView struct {
	Title, Heading, Message string
	Retry                   string // a same-site path to try again, or ""
	Static                  staticURLs
}

// diffLine is one line of the unified diff with its CSS class.
type diffLine struct{ Class, Text string }

// classify splits a unified diff into lines classed add, del, hunk, meta
// (file headers) or ctx. Hunk headers' line counts say where a hunk ends,
// so a removed line "-- x" is not taken for the header "--- x".
func classify(diff string) []diffLine {
	if diff == "" {
		return nil
	}
	lines := strings.Split(strings.TrimSuffix(diff, "\n"), "\n")
	out := make([]diffLine, 0, len(lines))
	oldLeft, newLeft := 0, 0 // lines left in the current hunk
	for _, l := range lines {
		class := "meta"
		switch {
		case oldLeft > 0 || newLeft > 0:
			switch {
			case strings.HasPrefix(l, "+"):
				class, newLeft = "add", newLeft-1
			case strings.HasPrefix(l, "-"):
				class, oldLeft = "del", oldLeft-1
			case strings.HasPrefix(l, "\\"):
				class = "ctx" // \ No newline at end of file
			default:
				class, oldLeft, newLeft = "ctx", oldLeft-1, newLeft-1
			}
		case strings.HasPrefix(l, "@@"):
			class = "hunk"
			oldLeft, newLeft = hunkCounts(l)
		}
		out = append(out, diffLine{Class: class, Text: l})
	}
	return out
}

// hunkCounts reads the old and new line counts of "@@ -a,b +c,d @@" (a
// count left out is 1); a malformed header counts none.
func hunkCounts(h string) (int, int) {
	f := strings.Fields(h)
	if len(f) < 3 || !strings.HasPrefix(f[1], "-") || !strings.HasPrefix(f[2], "+") {
		return 0, 0
	}
	count := func(r string) int {
		_, n, ok := strings.Cut(r[1:], ",")
		if !ok {
			return 1
		}
		c, err := strconv.Atoi(n)
		if err != nil || c < 0 {
			return 0
		}
		return c
	}
	return count(f[1]), count(f[2])
}

func newPageView(r Record, login string, static staticURLs) pageView {
	v := pageView{Title: fmt.Sprintf("%s#%d %s", r.Repo, r.Number, clip(r.Request, 80)), R: r, Diff: classify(r.Diff),
		Login: login, Static: static, Updated: r.Updated.UTC().Format(time.RFC3339)}
	if httpURL(r.PullRequest) {
		v.PR = r.PullRequest
	}
	return v
}
