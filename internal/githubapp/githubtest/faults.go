package githubtest

import (
	"net/http"
	"path"
	"strings"
)

// fault is one injected failure.
type fault struct {
	method, pattern string
	status          int
	headers         map[string]string
}

// FailNext makes the next request matching method and pathPattern fail once
// with status and headers (e.g. 502, or 403 with Retry-After for a
// secondary rate limit). pathPattern is either a REST operation's path as
// GitHub documents it ("/repos/{owner}/{repo}/pulls"), or a path.Match
// pattern over the request path, REST paths without their /api/v3 prefix
// ("/repos/*/*/pulls"), git paths as they are ("/acme/*.git/info/refs"),
// and "/graphql" for GraphQL.
// Faults queue up and are used in order.
func (s *Server) FailNext(method, pathPattern string, status int, headers map[string]string) {
	s.t.Helper()
	if _, err := path.Match(pathPattern, "/"); err != nil {
		s.t.Fatalf("githubtest: FailNext: bad pattern %q: %v", pathPattern, err)
	}
	if status < 400 || status > 599 {
		s.t.Fatalf("githubtest: FailNext: status %d is not an error status", status)
	}
	h := make(map[string]string, len(headers))
	for k, v := range headers {
		h[k] = v
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, fault{method: strings.ToUpper(method), pattern: pathPattern, status: status, headers: h})
}

// takeFault removes and returns the first fault matching the request.
func (s *Server) takeFault(method, reqPath, specPath string) (fault, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, f := range s.faults {
		if f.method != method {
			continue
		}
		match := specPath != "" && f.pattern == specPath
		if !match {
			match, _ = path.Match(f.pattern, reqPath)
		}
		if match {
			s.faults = append(s.faults[:i], s.faults[i+1:]...)
			return f, true
		}
	}
	return fault{}, false
}

// reply is GitHub's answer for the fault, shaped as GitHub shapes it: rate
// limits carry the messages go-github and the bot recognise.
func (f fault) reply() reply {
	rep := reply{status: f.status, header: http.Header{}}
	for k, v := range f.headers {
		rep.header.Set(k, v)
	}
	switch {
	case (f.status == http.StatusForbidden || f.status == http.StatusTooManyRequests) && rep.header.Get("X-RateLimit-Remaining") == "0":
		rep.body = ghError("API rate limit exceeded for installation. If you reach out to GitHub Support for help, please include the request ID.",
			"https://docs.github.com/rest/overview/resources-in-the-rest-api#rate-limiting", f.status)
	case f.status == http.StatusForbidden || f.status == http.StatusTooManyRequests:
		rep.body = ghError("You have exceeded a secondary rate limit. Please wait a few minutes before you try again.",
			"https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits", f.status)
	default:
		rep.body = ghError(http.StatusText(f.status), "https://docs.github.com/rest", f.status)
	}
	return rep
}
