package request

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/kubewright/kubewright/internal/command"
)

func TestFromComment(t *testing.T) {
	for _, tc := range []struct {
		body             string
		place            command.Place
		cmd, intent      string
		reply, wantReply bool
		ok               bool
	}{
		{body: "/ai containerize api --env staging", place: command.Issue, cmd: "containerize", ok: true},
		{body: "/ai add an inventory service in Go", place: command.Issue, intent: "add an inventory service in Go", wantReply: true, ok: true},
		{body: "/ai contanerize", place: command.Issue, reply: true, wantReply: true, ok: true},
		{body: "/ai help", place: command.Issue, reply: true, wantReply: true, ok: true},
		{body: "/ai validate", place: command.Issue, reply: true, wantReply: true, ok: true}, // pull requests only
		{body: "/ai validate", place: command.PullRequest, cmd: "validate", ok: true},
		{body: "LGTM", place: command.Issue},
	} {
		t.Run(tc.body, func(t *testing.T) {
			cmd, intent, reply, ok := FromComment(command.Parse(tc.body, command.Options{Context: tc.place}))
			if ok != tc.ok || intent != tc.intent || (reply != nil) != tc.wantReply {
				t.Fatalf("FromComment = %v %q %v %v", cmd, intent, reply, ok)
			}
			if got := ""; cmd != nil {
				if got = string(cmd.Name); got != tc.cmd {
					t.Errorf("command %q, want %q", got, tc.cmd)
				}
			} else if tc.cmd != "" {
				t.Errorf("no command, want %q", tc.cmd)
			}
		})
	}
}

func TestValidate(t *testing.T) {
	good := Request{Delivery: "d", Event: "issue_comment", Trigger: Comment, Repo: Repo{Owner: "acme", Name: "shop"}, Number: 3,
		Actor: Actor{Login: "octocat", ID: 1}, Command: &command.Command{Name: command.Plan}}
	for _, tc := range []struct {
		name  string
		edit  func(*Request)
		error string
	}{
		{"complete", func(*Request) {}, ""},
		{"intent with reply", func(r *Request) { r.Command, r.Intent, r.Reply = nil, "add a cache", &command.Reply{Text: "?"} }, ""},
		{"reply only", func(r *Request) { r.Command, r.Reply = nil, &command.Reply{Text: "help"} }, ""},
		{"nothing to do", func(r *Request) { r.Command = nil }, "either a command"},
		{"command and intent", func(r *Request) { r.Intent = "x y" }, "either a command"},
		{"empty", func(r *Request) { *r = Request{} }, "delivery, repository, issue or pull request number, actor"},
		{"no number", func(r *Request) { r.Number = 0 }, "number"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := good
			tc.edit(&r)
			err := r.Validate()
			if (err == nil) != (tc.error == "") || (err != nil && !strings.Contains(err.Error(), tc.error)) {
				t.Fatalf("Validate = %v, want %q", err, tc.error)
			}
		})
	}
	if good.Subject() != "acme/shop#3" || good.Place() != command.Issue || !good.IsCommand(command.Plan) || good.IsCommand(command.Cancel) {
		t.Errorf("accessors: %q %v", good.Subject(), good.Place())
	}
}

// The queue stores requests as JSON: what goes in comes out.
func TestJSONRoundTrip(t *testing.T) {
	r := Request{Delivery: "d", Event: "issues", Installation: 31, Trigger: Label, Repo: Repo{Owner: "acme", Name: "shop", DefaultBranch: "main"},
		Number: 9, OnPullRequest: true, Actor: Actor{Login: "octocat", ID: 7, Association: "MEMBER"}, CommentID: 12,
		Command: &command.Command{Name: command.Containerize, Args: []string{"api"}, Env: "staging", Line: 2, Raw: "/ai containerize api"}}
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	var back Request
	if err := json.Unmarshal(b, &back); err != nil || !reflect.DeepEqual(back, r) {
		t.Fatalf("round trip: %v\n%+v\n%+v", err, back, r)
	}
}
