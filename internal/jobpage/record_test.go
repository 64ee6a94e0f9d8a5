package jobpage

import (
	"net/http"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

func TestCheck(t *testing.T) {
	ok := Record{ID: "a1-B2", Repo: "acme/shop.v2", Status: "queued", PullRequest: "https://github.com/acme/shop/pull/1"}
	tests := []struct {
		name   string
		change func(*Record)
		want   string // part of the error, "" for none
	}{
		{"valid", func(*Record) {}, ""},
		{"ID with a slash", func(r *Record) { r.ID = "a/b" }, "1 to 64 letters"},
		{"ID too long", func(r *Record) { r.ID = strings.Repeat("a", 65) }, "1 to 64 letters"},
		{"no ID", func(r *Record) { r.ID = "" }, "1 to 64 letters"},
		{"repository without owner", func(r *Record) { r.Repo = "shop" }, "not owner/name"},
		{"repository with a path", func(r *Record) { r.Repo = "acme/shop/x" }, "not owner/name"},
		{"repository ..", func(r *Record) { r.Repo = "acme/.." }, "not owner/name"},
		{"unknown status", func(r *Record) { r.Status = "cancelled" }, "use queued, running, done or failed"},
		{"javascript: link", func(r *Record) { r.PullRequest = "javascript:alert(1)" }, "not an http(s) URL"},
		{"data: link", func(r *Record) { r.PullRequest = "data:text/html,<script>" }, "not an http(s) URL"},
		{"link with credentials", func(r *Record) { r.PullRequest = "https://u:p@github.com/x" }, "not an http(s) URL"},
		{"negative number", func(r *Record) { r.Number = -1 }, "negative"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := ok
			tc.change(&r)
			err := r.Check()
			if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
				t.Fatalf("Check() = %v, want %q", err, tc.want)
			}
		})
	}
}

func TestBound(t *testing.T) {
	now := time.Date(2026, 12, 1, 0, 0, 0, 0, time.FixedZone("x", 3600))
	long := strings.Repeat("ü", maxSummary) // 2 bytes a rune: the cut falls inside one
	r := Bound(Record{Summary: long, Request: "/ai do \x00 it", Diff: strings.Repeat("+line\n", MaxDiff/6+10)}, now)
	if len(r.Summary) > maxSummary || !utf8.ValidString(r.Summary) || !strings.HasSuffix(r.Summary, "…") {
		t.Errorf("summary cut to %d bytes, valid %v", len(r.Summary), utf8.ValidString(r.Summary))
	}
	if r.Request != "/ai do \uFFFD it" {
		t.Errorf("request %q: want the NUL replaced", r.Request)
	}
	if len(r.Diff) > MaxDiff || !strings.HasSuffix(r.Diff, "+line\n") {
		t.Errorf("diff cut to %d bytes, not at a line", len(r.Diff))
	}
	if !r.Updated.Equal(now) || !r.Created.Equal(now) || r.Updated.Location() != time.UTC {
		t.Errorf("times %v %v: want now, in UTC", r.Created, r.Updated)
	}
	if len(r.Omitted) != 1 || !strings.Contains(r.Omitted[0], "the diff after") {
		t.Errorf("Omitted = %q", r.Omitted)
	}
	// Bounding twice changes nothing.
	again := Bound(r, now.Add(time.Hour))
	if again.Diff != r.Diff || again.Summary != r.Summary || len(again.Omitted) != len(r.Omitted) || !again.Updated.Equal(r.Updated) {
		t.Error("Bound is not idempotent")
	}
}

func TestClassify(t *testing.T) {
	diff := "diff --git a/x.sql b/x.sql\nindex 1..2 100644\n--- a/x.sql\n+++ b/x.sql\n" +
		"@@ -1,3 +1,3 @@\n select 1;\n--- a comment removed\n+++ a comment added\n \\ No newline at end of file\n" +
		"--- a/y\n+++ b/y\n@@ -5 +5,2 @@ func\n-old\n+new\n+more\nnot a diff line\n@@ bogus @@\n"
	want := []string{"meta", "meta", "meta", "meta", "hunk", "ctx", "del", "add", "ctx", "meta", "meta", "hunk", "del", "add", "add", "meta", "hunk"}
	got := classify(diff)
	if len(got) != len(want) {
		t.Fatalf("%d lines, want %d: %+v", len(got), len(want), got)
	}
	for i := range want {
		if got[i].Class != want[i] {
			t.Errorf("line %d %q: class %s, want %s", i, got[i].Text, got[i].Class, want[i])
		}
	}
	if classify("") != nil {
		t.Error("an empty diff has lines")
	}
}

func TestAuthFromEnv(t *testing.T) {
	const web, api = "https://github.com", "https://api.github.com"
	tests := []struct {
		name string
		env  map[string]string
		off  bool
		want string // part of the error
	}{
		{"off without a client ID", map[string]string{EnvClientSecret: "whatever"}, true, ""},
		{"complete", map[string]string{EnvClientID: "Iv1.x", EnvClientSecret: "0123456789abcdef0123", EnvPublicURL: "https://kw.example.com/"}, false, ""},
		{"loopback over http", map[string]string{EnvClientID: "Iv1.x", EnvClientSecret: "0123456789abcdef0123", EnvPublicURL: "http://127.0.0.1:8080"}, false, ""},
		{"no secret, no URL", map[string]string{EnvClientID: "Iv1.x"}, false, EnvClientSecret + " is required"},
		{"http elsewhere", map[string]string{EnvClientID: "Iv1.x", EnvClientSecret: "0123456789abcdef0123", EnvPublicURL: "http://kw.example.com"}, false, "use https://"},
		{"not a URL", map[string]string{EnvClientID: "Iv1.x", EnvClientSecret: "0123456789abcdef0123", EnvPublicURL: "kw.example.com"}, false, "want an absolute https:// URL"},
		{"a query", map[string]string{EnvClientID: "Iv1.x", EnvClientSecret: "0123456789abcdef0123", EnvPublicURL: "https://kw.example.com/?a=1"}, false, "without query"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a, err := AuthFromEnv(func(k string) string { return tc.env[k] }, web, api)
			switch {
			case tc.want != "":
				if err == nil || !strings.Contains(err.Error(), tc.want) {
					t.Fatalf("err = %v, want %q", err, tc.want)
				}
			case err != nil:
				t.Fatal(err)
			case tc.off != (a == nil):
				t.Fatalf("auth = %+v, want off %v", a, tc.off)
			case a != nil && (len(a.Key) != 32 || strings.HasSuffix(a.BaseURL, "/") || strings.Contains(string(a.Key), a.ClientSecret)):
				t.Fatalf("auth = %+v: want a derived 32-byte key and no trailing slash", a)
			}
		})
	}
	a, _ := AuthFromEnv(func(k string) string {
		return map[string]string{EnvClientID: "Iv1.x", EnvClientSecret: "0123456789abcdef0123", EnvPublicURL: "https://kw.example.com"}[k]
	}, web, api)
	if c := a.cookie(sessionCookie, "v", time.Now().Add(time.Hour)); c.Name != "__Host-"+sessionCookie || !c.Secure || !c.HttpOnly || c.SameSite != http.SameSiteLaxMode {
		t.Errorf("cookie over https: %+v, want __Host-, Secure, HttpOnly, SameSite=Lax", c)
	}
}

// TestGrantBounds: a session keeps at most maxGrants repositories, the
// latest to expire, and its cookie stays under maxCookie.
func TestGrantBounds(t *testing.T) {
	a := &Auth{Key: []byte("0123456789abcdef0123456789abcdef"), BaseURL: "https://kw.example.com"}
	now := time.Now()
	s := session{Login: strings.Repeat("l", 39)}
	var c *http.Cookie
	for i := range 40 {
		var err error
		if c, err = a.grant(s, "owner-"+strings.Repeat("o", 30)+"/"+strings.Repeat("r", 90)+string(rune('a'+i%26))+string(rune('a'+i/26)), now.Add(time.Duration(i)*time.Minute)); err != nil {
			t.Fatal(err)
		}
		req := &http.Request{Header: http.Header{"Cookie": {c.String()}}}
		var ok bool
		if s, ok = a.readSession(req, now); !ok {
			t.Fatalf("grant %d: the cookie (%d bytes) does not read back", i, len(c.Value))
		}
	}
	if len(s.Repos) > maxGrants || len(c.Value) > maxCookie || len(s.Repos) < 8 {
		t.Errorf("%d grants in %d bytes; want 8 to %d grants under %d bytes", len(s.Repos), len(c.Value), maxGrants, maxCookie)
	}
	if !s.may("owner-"+strings.Repeat("o", 30)+"/"+strings.Repeat("r", 90)+"nb", now) {
		t.Error("the last grant was dropped")
	}
}

// FuzzSession: no cookie value panics the reader, and only values this
// key signed are sessions.
func FuzzSession(f *testing.F) {
	a := &Auth{Key: []byte("0123456789abcdef0123456789abcdef"), BaseURL: "http://127.0.0.1"}
	c, _ := a.grant(session{Login: "alice"}, "acme/shop", time.Now().Add(time.Hour))
	f.Add(c.Value)
	f.Add("e30.AAAA")
	f.Add("")
	f.Fuzz(func(t *testing.T, v string) {
		req := &http.Request{Header: http.Header{"Cookie": {sessionCookie + "=" + v}}}
		s, ok := a.readSession(req, time.Now())
		if ok && v != c.Value {
			// A different value may still carry the same MAC (base64's
			// unused bits); it must then hold the same session.
			if s.Login != "alice" || !s.may("acme/shop", time.Now()) {
				t.Fatalf("forged session %+v from %q", s, v)
			}
		}
		var st state
		if a.verify("state", v, &st) && v != "" {
			t.Fatalf("%q passes as a state", v)
		}
	})
}

// FuzzClassify: every line of any diff gets one known class.
func FuzzClassify(f *testing.F) {
	f.Add(sampleRecord().Diff)
	f.Add("@@ -1,2 +1 @@\n-a\n-b\n+c\n")
	f.Add("@@ -99999999999999999999,1 +1,-5 @@\n+")
	f.Fuzz(func(t *testing.T, diff string) {
		lines := classify(diff)
		if diff != "" && len(lines) != strings.Count(strings.TrimSuffix(diff, "\n"), "\n")+1 {
			t.Fatalf("%d lines for %q", len(lines), diff)
		}
		for _, l := range lines {
			switch l.Class {
			case "add", "del", "hunk", "meta", "ctx":
			default:
				t.Fatalf("class %q", l.Class)
			}
		}
	})
}
