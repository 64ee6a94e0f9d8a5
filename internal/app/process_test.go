package app

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"database/sql"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-github/v88/github"
	"github.com/jackc/pgx/v5"

	"github.com/kubewright/kubewright/internal/githubapp"
	"github.com/kubewright/kubewright/internal/githubapp/githubtest"
)

// Process-level tests: the real kubewright binary runs as child processes,
// configured only through KUBEWRIGHT_* variables, against the fake GitHub
// on loopback. They prove what only a real process boundary can: a SIGKILL
// after the 202 loses nothing, and replicas sharing PostgreSQL run each
// delivery once.

const (
	procAppID        = 9
	procInstallation = 31
	procBot          = "kubewright[bot]"
	procUser         = "octocat"
	helpMarker       = "kubewright commands" // in every `/ai help` reply
)

// TestMain removes the binary the process tests build (once, on demand).
func TestMain(m *testing.M) {
	code := m.Run()
	if binary.dir != "" {
		os.RemoveAll(binary.dir)
	}
	os.Exit(code)
}

var binary struct {
	once sync.Once
	dir  string
	path string
	err  error
}

// kubewrightBinary builds ./cmd/kubewright once per test binary run.
func kubewrightBinary(t *testing.T) string {
	t.Helper()
	binary.once.Do(func() {
		start := time.Now()
		binary.dir, binary.err = os.MkdirTemp("", "kubewright-proc-")
		if binary.err != nil {
			return
		}
		root, err := filepath.Abs(filepath.Join("..", ".."))
		if err != nil {
			binary.err = err
			return
		}
		goTool, err := exec.LookPath("go")
		if err != nil {
			binary.err = fmt.Errorf("the go command is needed to build the binary: %w", err)
			return
		}
		binary.path = filepath.Join(binary.dir, "kubewright")
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, goTool, "build", "-o", binary.path, "./cmd/kubewright")
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			binary.err = fmt.Errorf("go build ./cmd/kubewright: %v\n%s", err, out)
			return
		}
		t.Logf("built %s in %s", binary.path, time.Since(start).Round(time.Millisecond))
	})
	if binary.err != nil {
		t.Fatalf("cannot build the kubewright binary: %v", binary.err)
	}
	return binary.path
}

// procEnv is what every child shares: the App, its key, the fake GitHub.
type procEnv struct {
	fake    *githubtest.Server
	keyFile string
}

func newProcEnv(t *testing.T) procEnv {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	keyFile := filepath.Join(t.TempDir(), "app.pem")
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)}), 0o600); err != nil {
		t.Fatal(err)
	}
	fake := githubtest.New(t, githubtest.WithApp(githubtest.App{ID: procAppID, PublicKey: &key.PublicKey}))
	fake.AddInstallation(procInstallation, "acme")
	return procEnv{fake: fake, keyFile: keyFile}
}

// child is one running `kubewright serve`.
type child struct {
	name string
	url  string // http://127.0.0.1:port
	cmd  *exec.Cmd
	out  *lockedBuffer
	done chan struct{}
	err  error // set when done is closed
}

// lockedBuffer collects a child's output; exec writes it from a goroutine.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// freeLoopbackPort picks a port by listening on :0 and closing.
func freeLoopbackPort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// startServe starts `kubewright serve` with a clean environment (nothing of
// the test's own, so no KUBEBUILDER_ASSETS and no apiserver) plus store,
// which is KUBEWRIGHT_DATA_DIR=... or KUBEWRIGHT_DATABASE_URL=..., and the
// extra KEY=value settings, and waits until /readyz answers. The child is
// killed when the test ends.
func startServe(t *testing.T, name string, pe procEnv, store string, extra ...string) *child {
	t.Helper()
	bin := kubewrightBinary(t)
	port := freeLoopbackPort(t)
	env := []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + t.TempDir(),
		"TMPDIR=" + os.TempDir(),
		"KUBEWRIGHT_LISTEN=127.0.0.1:" + strconv.Itoa(port),
		"KUBEWRIGHT_APP_ID=" + strconv.Itoa(procAppID),
		"KUBEWRIGHT_PRIVATE_KEY_FILE=" + pe.keyFile,
		"KUBEWRIGHT_WEBHOOK_SECRET=" + secret,
		"KUBEWRIGHT_GITHUB_URL=" + pe.fake.URL,
		"KUBEWRIGHT_WORKERS=4",
		store,
	}
	env = append(env, extra...)
	c := &child{name: name, url: "http://127.0.0.1:" + strconv.Itoa(port), out: &lockedBuffer{}, done: make(chan struct{})}
	c.cmd = exec.Command(bin, "serve")
	c.cmd.Env = env
	c.cmd.Stdout, c.cmd.Stderr = c.out, c.out
	if err := c.cmd.Start(); err != nil {
		t.Fatalf("%s: start: %v", name, err)
	}
	go func() { c.err = c.cmd.Wait(); close(c.done) }()
	t.Cleanup(func() {
		c.kill(t)
		if t.Failed() {
			out := c.out.String()
			t.Logf("%s errors:\n%s\n%s output:\n%s", name, errorLines(out, 20), name, tail(out, 4000))
		}
	})

	start := time.Now()
	client := &http.Client{Timeout: time.Second}
	for deadline := start.Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		select {
		case <-c.done:
			t.Fatalf("%s exited before it was ready (%v):\n%s", name, c.err, tail(c.out.String(), 4000))
		default:
		}
		if resp, err := client.Get(c.url + "/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not ready on %s after 30s:\n%s", name, c.url, tail(c.out.String(), 4000))
		}
	}
	t.Logf("%s ready on %s in %s", name, c.url, time.Since(start).Round(time.Millisecond))
	return c
}

// kill sends SIGKILL (no graceful shutdown, no chance to hand jobs back)
// and waits for the process to be gone.
func (c *child) kill(t *testing.T) {
	t.Helper()
	select {
	case <-c.done:
		return
	default:
	}
	c.cmd.Process.Kill()
	select {
	case <-c.done:
	case <-time.After(10 * time.Second):
		t.Errorf("%s (pid %d) did not exit 10s after SIGKILL", c.name, c.cmd.Process.Pid)
	}
}

// errorLines are the first max ERROR records of a child's JSON log.
func errorLines(out string, max int) string {
	var lines []string
	for line := range strings.Lines(out) {
		if strings.Contains(line, `"level":"ERROR"`) && len(lines) < max {
			lines = append(lines, strings.TrimSpace(line))
		}
	}
	if len(lines) == 0 {
		return "(none)"
	}
	return strings.Join(lines, "\n")
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "…" + s[len(s)-n:]
}

// helpPayload is the issue_comment "created" event of a seeded `/ai help`
// comment.
func helpPayload(t *testing.T, repo string, issue int, commentID int64) []byte {
	t.Helper()
	payload, err := json.Marshal(github.IssueCommentEvent{
		Action:  github.Ptr("created"),
		Issue:   &github.Issue{Number: github.Ptr(issue)},
		Comment: &github.IssueComment{ID: github.Ptr(commentID), Body: github.Ptr("/ai help"), User: &github.User{Login: github.Ptr(procUser), ID: github.Ptr(int64(1)), Type: github.Ptr("User")}},
		Repo: &github.Repository{Name: github.Ptr(repo), FullName: github.Ptr("acme/" + repo), DefaultBranch: github.Ptr("main"),
			Owner: &github.User{Login: github.Ptr("acme")}},
		Installation: &github.Installation{ID: github.Ptr(int64(procInstallation))},
	})
	if err != nil {
		t.Fatal(err)
	}
	return payload
}

var webhookClient = &http.Client{Timeout: 10 * time.Second}

// deliver posts a signed delivery to a child's /webhook and returns the
// status and body; a transport error fails the test.
func deliver(t *testing.T, c *child, delivery string, payload []byte) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, c.url+"/webhook", bytes.NewReader(payload))
	if err != nil {
		t.Errorf("%s: %v", c.name, err) // not Fatal: deliver runs on other goroutines too
		return 0, ""
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-GitHub-Event", "issue_comment")
	req.Header.Set("X-GitHub-Delivery", delivery)
	req.Header.Set("X-Hub-Signature-256", githubapp.Sign([]byte(secret), payload))
	resp, err := webhookClient.Do(req)
	if err != nil {
		t.Errorf("%s: POST /webhook %s: %v", c.name, delivery, err)
		return 0, ""
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, strings.TrimSpace(string(b))
}

// botReplies counts the bot's comments per issue of acme/repo.
func botReplies(t *testing.T, fake *githubtest.Server, repo string) map[int][]githubtest.Comment {
	t.Helper()
	out := map[int][]githubtest.Comment{}
	for _, c := range fake.Comments("acme", repo) {
		if c.User != procUser {
			out[c.Issue] = append(out[c.Issue], c)
		}
	}
	return out
}

// queueJob is the state of the only job in a SQLite queue.
type queueJob struct {
	state     string
	attempted bool
	errors    int
}

func readSQLiteJob(t *testing.T, db *sql.DB) (queueJob, bool) {
	t.Helper()
	var j queueJob
	err := db.QueryRow(`SELECT state, attempted_at IS NOT NULL, coalesce(json_array_length(errors), 0) FROM river_job WHERE kind = 'kubewright.delivery'`).
		Scan(&j.state, &j.attempted, &j.errors)
	if err != nil {
		return j, false // not there yet, or the database is busy
	}
	return j, true
}

// TestProcessKilledAfterAckRestarts: a delivery acknowledged with 202 by a
// process that is then SIGKILLed, before its job could finish, is answered
// exactly once by the next process on the same data directory, and the
// same delivery sent again to that process is a duplicate.
//
// The job must be between attempts when the kill lands: River marks a job
// running when it fetches it, and a running job whose process died is only
// rescued after RescueStuckJobsAfter (an hour by default), far beyond a
// test. The fake GitHub makes the first attempt(s) fail so the kill lands
// on a job that is durably waiting, which the test reads from the queue
// database before killing.
func TestProcessKilledAfterAckRestarts(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the kubewright binary")
	}
	tests := []struct {
		name string
		// fail injects the failures the first process meets.
		fail func(fake *githubtest.Server)
		// errors is how many failed attempts the queue records before the
		// kill; state is the job's state then.
		errors int
		state  string
		// within bounds how long the second process may take: a retry
		// waits out River's backoff (attempt^4 s) and, when the job is
		// "retryable", for the new process to take over leadership from
		// the dead one (its lease lapses within ~15s) to schedule it.
		within time.Duration
	}{
		{
			name: "reply rate-limited, snoozed",
			fail: func(fake *githubtest.Server) {
				fake.FailNext(http.MethodPost, "/repos/{owner}/{repo}/issues/{issue_number}/comments", http.StatusForbidden, map[string]string{"Retry-After": "3"})
			},
			state:  "available",
			within: 20 * time.Second,
		},
		{
			name: "token endpoint 502 twice, retried with backoff",
			fail: func(fake *githubtest.Server) {
				for range 2 {
					fake.FailNext(http.MethodPost, "/app/installations/{installation_id}/access_tokens", http.StatusBadGateway, nil)
				}
			},
			errors: 2,
			state:  "retryable",
			within: 45 * time.Second,
		},
	}
	kubewrightBinary(t) // build before the subtests race for it
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			pe := newProcEnv(t)
			pe.fake.AddRepo("acme", "shop", "")
			issue := pe.fake.AddIssue("acme", "shop")
			payload := helpPayload(t, "shop", issue, pe.fake.AddComment("acme", "shop", issue, procUser, "/ai help"))
			tt.fail(pe.fake)
			dataDir := t.TempDir()
			store := "KUBEWRIGHT_DATA_DIR=" + dataDir

			first := startServe(t, "serve#1", pe, store)
			if code, body := deliver(t, first, "delivery-1", payload); code != http.StatusAccepted || body != "accepted" {
				t.Fatalf("serve#1: first delivery: %d %q, want 202 accepted", code, body)
			}
			acked := time.Now()

			db, err := sql.Open("sqlite", "file:"+filepath.Join(dataDir, "queue.db")+"?_pragma=busy_timeout(1000)")
			if err != nil {
				t.Fatal(err)
			}
			var job queueJob
			for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(20 * time.Millisecond) {
				j, ok := readSQLiteJob(t, db)
				if ok && j.attempted && j.state != "running" && j.errors >= tt.errors {
					job = j
					break
				}
				if time.Now().After(deadline) {
					db.Close()
					t.Fatalf("serve#1: the job did not reach its %d failed attempt(s) within 15s: last seen %+v", tt.errors, j)
				}
			}
			first.kill(t)
			db.Close()
			t.Logf("serve#1 SIGKILLed %s after the 202, job %+v", time.Since(acked).Round(time.Millisecond), job)
			if job.state != tt.state || job.errors != tt.errors {
				t.Errorf("job at the kill: %+v, want state %q with %d errors", job, tt.state, tt.errors)
			}
			if got := botReplies(t, pe.fake, "shop")[issue]; len(got) != 0 {
				t.Fatalf("serve#1 replied before it was killed, so the restart proves nothing: %+v", got)
			}

			second := startServe(t, "serve#2", pe, store)
			restarted := time.Now()
			if code, body := deliver(t, second, "delivery-1", payload); code != http.StatusAccepted || body != "duplicate" {
				t.Errorf("serve#2: same delivery again: %d %q, want 202 duplicate", code, body)
			}
			var replies []githubtest.Comment
			for deadline := time.Now().Add(tt.within); len(replies) == 0 && time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
				replies = botReplies(t, pe.fake, "shop")[issue]
			}
			if len(replies) == 0 {
				t.Fatalf("serve#2 did not reply within %s of its start", tt.within)
			}
			t.Logf("serve#2 replied %s after its start", time.Since(restarted).Round(time.Millisecond))
			time.Sleep(1500 * time.Millisecond) // a second run would show by now
			replies = botReplies(t, pe.fake, "shop")[issue]
			if len(replies) != 1 || replies[0].User != procBot || !strings.Contains(replies[0].Body, helpMarker) {
				t.Errorf("want exactly one help reply by %s, got %d: %+v", procBot, len(replies), replies)
			}
		})
	}
}

// testDatabase creates a fresh PostgreSQL database for the test and drops
// it when the test ends (after the children, which are killed first), and
// returns its URL.
func testDatabase(t *testing.T) string {
	t.Helper()
	admin := os.Getenv("KUBEWRIGHT_TEST_DATABASE_URL")
	if admin == "" {
		admin = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		t.Fatalf("PostgreSQL at %s (set KUBEWRIGHT_TEST_DATABASE_URL): %v", admin, err)
	}
	defer conn.Close(ctx)
	var suffix [6]byte
	rand.Read(suffix[:])
	name := fmt.Sprintf("kw_proc_%x", suffix)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("create database %s: %v", name, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, admin)
		if err != nil {
			t.Errorf("drop database %s: %v", name, err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Errorf("drop database %s: %v", name, err)
		}
	})
	u, err := url.Parse(admin)
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/" + name
	return u.String()
}

// TestTwoProcessesSharePostgresExactlyOnce: two serve processes share one
// PostgreSQL queue (two replicas). A burst of distinct `/ai help`
// deliveries, each on its own issue, alternating between the processes,
// some sent to both at once, gets exactly one reply per issue; of each
// delivery sent to both, one process says "accepted" and the other
// "duplicate".
func TestTwoProcessesSharePostgresExactlyOnce(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the kubewright binary")
	}
	const (
		n     = 40
		repos = 4 // jobs of one repository run one at a time across both processes
	)
	pe := newProcEnv(t)
	dbURL := testDatabase(t)
	store := "KUBEWRIGHT_DATABASE_URL=" + dbURL
	type send struct {
		repo     string
		issue    int
		delivery string
		payload  []byte
		both     bool // sent to both processes at once
	}
	sends := make([]send, n)
	for r := range repos {
		pe.fake.AddRepo("acme", fmt.Sprintf("shop-%d", r), "")
	}
	for i := range sends {
		repo := fmt.Sprintf("shop-%d", i%repos)
		issue := pe.fake.AddIssue("acme", repo)
		id := pe.fake.AddComment("acme", repo, issue, procUser, "/ai help")
		sends[i] = send{repo: repo, issue: issue, delivery: fmt.Sprintf("burst-%02d", i), payload: helpPayload(t, repo, issue, id), both: i%4 == 1}
	}

	// One after the other: two replicas starting at the same moment on a
	// fresh database race in River's migrations (one exits with "duplicate
	// key value violates unique constraint pg_type_typname_nsp_index": the
	// migrations take no lock). That is a start-up matter, not the queue's
	// exactly-once, which is what this test is about.
	procs := []*child{startServe(t, "serve#1", pe, store), startServe(t, "serve#2", pe, store)}

	start := time.Now()
	type answer struct{ code, body [2]string }
	answers := make([]answer, n)
	var wg sync.WaitGroup
	for i, s := range sends {
		targets := []int{i % 2}
		if s.both {
			targets = []int{0, 1}
		}
		for _, p := range targets {
			wg.Go(func() {
				code, body := deliver(t, procs[p], s.delivery, s.payload)
				answers[i].code[p], answers[i].body[p] = strconv.Itoa(code), body
			})
		}
	}
	wg.Wait()
	t.Logf("%d deliveries (%d to both processes) acknowledged in %s", n, n/4, time.Since(start).Round(time.Millisecond))
	// queued[i]: some process acknowledged sends[i] as "accepted". A
	// delivery no process queued is lost (GitHub does not redeliver on its
	// own), which the checks below report once, then leave out.
	queued := make([]bool, n)
	wantJobs := 0
	for i, s := range sends {
		a := answers[i]
		for p := range procs {
			queued[i] = queued[i] || a.code[p] == "202" && a.body[p] == "accepted"
		}
		if queued[i] {
			wantJobs++
		}
		if !s.both {
			p := i % 2
			if a.code[p] != "202" || a.body[p] != "accepted" {
				t.Errorf("%s to %s: %s %q, want 202 accepted", s.delivery, procs[p].name, a.code[p], a.body[p])
			}
			continue
		}
		got := []string{a.code[0] + " " + a.body[0], a.code[1] + " " + a.body[1]}
		if !(got[0] == "202 accepted" && got[1] == "202 duplicate") && !(got[0] == "202 duplicate" && got[1] == "202 accepted") {
			t.Errorf("%s to both processes: %q, want one 202 accepted and one 202 duplicate", s.delivery, got)
		}
	}

	replies := func() map[string]map[int][]githubtest.Comment {
		all := map[string]map[int][]githubtest.Comment{}
		for r := range repos {
			repo := fmt.Sprintf("shop-%d", r)
			all[repo] = botReplies(t, pe.fake, repo)
		}
		return all
	}
	missing := func() (left int) {
		all := replies()
		for i, s := range sends {
			if queued[i] && len(all[s.repo][s.issue]) == 0 {
				left++
			}
		}
		return left
	}
	for deadline := time.Now().Add(40 * time.Second); missing() > 0 && time.Now().Before(deadline); {
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("%d of %d queued deliveries answered %s after the burst", wantJobs-missing(), wantJobs, time.Since(start).Round(time.Millisecond))
	time.Sleep(2 * time.Second) // a second run of any delivery would show by now
	all := replies()
	for i, s := range sends {
		got := all[s.repo][s.issue]
		delete(all[s.repo], s.issue)
		if !queued[i] {
			if len(got) != 0 {
				t.Errorf("acme/%s#%d (%s): no process accepted the delivery, yet it got replies: %+v", s.repo, s.issue, s.delivery, got)
			}
			continue
		}
		if len(got) != 1 || got[0].User != procBot || !strings.Contains(got[0].Body, helpMarker) {
			t.Errorf("acme/%s#%d (%s): want exactly one help reply by %s, got %d: %+v", s.repo, s.issue, s.delivery, procBot, len(got), got)
		}
	}
	for repo, rest := range all {
		for issue, cs := range rest {
			t.Errorf("acme/%s#%d: replies on an issue nobody asked on: %+v", repo, issue, cs)
		}
	}
	for _, p := range procs {
		select {
		case <-p.done:
			t.Errorf("%s exited during the test: %v", p.name, p.err)
		default:
		}
	}

	// The queue itself: one job per distinct delivery, all completed, and
	// both processes did some of them (River records the client that ran
	// each attempt).
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var jobs, completed, clients int
	err = conn.QueryRow(ctx, `SELECT count(*), count(*) FILTER (WHERE state = 'completed'),
		count(DISTINCT attempted_by[array_upper(attempted_by, 1)]) FROM river_job WHERE kind = 'kubewright.delivery'`).Scan(&jobs, &completed, &clients)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("queue: %d jobs, %d completed, run by %d processes", jobs, completed, clients)
	if jobs != wantJobs || completed != wantJobs {
		t.Errorf("queue holds %d jobs, %d completed; want %d (one per accepted delivery), all completed", jobs, completed, wantJobs)
	}
	if clients != len(procs) {
		t.Errorf("jobs were run by %d processes, want %d: the replicas did not share the work", clients, len(procs))
	}
}
