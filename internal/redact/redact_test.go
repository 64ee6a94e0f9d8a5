package redact

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// Test secrets are assembled from pieces so that secret scanners do not
// flag this file; none of them is real.
var (
	ghToken    = "ghp_" + strings.Repeat("Ab1", 12)
	ghPAT      = "github_pat_" + strings.Repeat("11AbC", 10)
	openAIKey  = "sk-" + "proj-" + strings.Repeat("x9Y", 16)
	awsKeyID   = "AKIA" + "IOSFODNN7EXAMPLE"
	awsSecret  = "wJalrXUtnFEMI/K7MDENG/" + "bPxRfiCYEXAMPLEKEY"
	slackToken = "xox" + "b-123456789012-" + "abcdefABCDEF1234"
	googleKey  = "AIza" + "Sy" + strings.Repeat("A1b2C3d4e5", 3) + "fGh"
	jwt        = "eyJhbGciOiJIUzI1NiJ9" + ".eyJzdWIiOiIxMjM0NTY3ODkwIn0" + ".dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U"
	pemKey     = "-----BEGIN RSA " + "PRIVATE KEY-----\nMIIEowIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo4lgOEePzNm0tRgeLezV6ffAt0gunVTLw\n7onLRnrq0/IzW7yWR7QkrmBL7jTKEn5u+qKhbwKfBstIs+bMY2Zkp18gnTxKLxoS2tFczGkPLPgizskuemMghRniWaoLcyehkd3qqGElvW/VDL5AaWTg0nLVkjRo9z+40RQzuVaE8AkAFmxZzow3x+VJYKdjykkJ0iT9wCS0DRTXu269V264Vf/3jvredZiKRkgwlL9xNAwxXFg0x/XFw005UWVRIkdgcKWTjpBP2dPwVZ4WWC+9aGVd+Gyn1o0CLelf4rEjGoXbAAEgAqeGUxrcIlbjXfbcmwIDAQABAoIBAQCxxxx\n-----END RSA " + "PRIVATE KEY-----"
)

func TestRedact(t *testing.T) {
	cases := []struct {
		name, in, want string
		n              int
	}{
		// Private keys.
		{"PEM block in YAML", "tls.key: |\n  " + strings.ReplaceAll(pemKey, "\n", "\n  ") + "\nnext: 1\n", "tls.key: |\n  [REDACTED]\nnext: 1\n", 1},
		{"PEM in JSON string", `{"type":"service_account","private_key":"` + strings.ReplaceAll(pemKey, "\n", `\n`) + `\n","client_email":"bot@example.iam.gserviceaccount.com"}`,
			`{"type":"service_account","private_key":"[REDACTED]","client_email":"bot@example.iam.gserviceaccount.com"}`, 2},
		{"PEM cut off", "-----BEGIN OPENSSH " + "PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW\nQyNTUxOQAAACDd\n", "[REDACTED]\n", 1},
		{"PGP private key block", "-----BEGIN PGP " + "PRIVATE KEY BLOCK-----\n\nlQOYBF0\n-----END PGP " + "PRIVATE KEY BLOCK-----", "[REDACTED]", 1},
		// Provider tokens, wherever they are.
		{"GitHub classic token in prose", "I used " + ghToken + " to push", "I used [REDACTED] to push", 1},
		{"GitHub token kinds", "gho_" + strings.Repeat("x", 36) + " ghu_" + strings.Repeat("y1", 18) + " ghs_" + strings.Repeat("Z", 36) + " ghr_" + strings.Repeat("0", 36), "[REDACTED] [REDACTED] [REDACTED] [REDACTED]", 4},
		{"GitHub fine-grained token", "token: " + ghPAT, "token: [REDACTED]", 1},
		{"GitHub token in env assignment", "GITHUB_TOKEN=" + ghToken + "\n", "GITHUB_TOKEN=[REDACTED]\n", 1},
		{"OpenAI key", `client = OpenAI(api_key="` + openAIKey + `")`, `client = OpenAI(api_key="[REDACTED]")`, 1},
		{"AWS credentials file", "[default]\naws_access_key_id = " + awsKeyID + "\naws_secret_access_key = " + awsSecret + "\nregion = eu-west-1\n",
			"[default]\naws_access_key_id = [REDACTED]\naws_secret_access_key = [REDACTED]\nregion = eu-west-1\n", 2},
		{"AWS session key id in a log", "using ASIA" + "Y34FZKBOKMUTVV7A for s3", "using [REDACTED] for s3", 1},
		{"Slack token", "SLACK=" + slackToken, "SLACK=[REDACTED]", 1},
		{"Slack webhook", "url: https://hooks.slack.com/services/T00000000/B00000000/" + "XXXXXXXXXXXXXXXXXXXXXXXX", "url: https://hooks.slack.com/services/[REDACTED]", 1},
		{"Google API key", `const maps = "` + googleKey + `";`, `const maps = "[REDACTED]";`, 1},
		{"JWT", "session " + jwt + " expired", "session [REDACTED] expired", 1},
		{"bearer header in curl", `curl -H "Authorization: Bearer abc123def456ghi789" https://api`, `curl -H "Authorization: Bearer [REDACTED]" https://api`, 1},
		{"bearer header without digits", "Authorization: Bearer abcdefghij", "Authorization: Bearer [REDACTED]", 1},
		{"token and basic schemes", "Authorization: token abcdefghij\nauthorization: Basic dXNlcjpwYXNz\n", "Authorization: token [REDACTED]\nauthorization: Basic [REDACTED]\n", 2},
		// Passwords in URLs.
		{"postgres URL", "dsn: postgres://app:s3cr3t@db:5432/app?sslmode=disable", "dsn: postgres://app:[REDACTED]@db:5432/app?sslmode=disable", 1},
		{"URL schemes", "amqp://guest:guest1@mq:5672/ redis://:r3dis@cache:6379/0 mongodb+srv://u:m0ngo@cluster0.x.mongodb.net/db mysql://root:my5ql@db/app https://bot:h77ps@git.example.com/x.git",
			"amqp://guest:[REDACTED]@mq:5672/ redis://:[REDACTED]@cache:6379/0 mongodb+srv://u:[REDACTED]@cluster0.x.mongodb.net/db mysql://root:[REDACTED]@db/app https://bot:[REDACTED]@git.example.com/x.git", 5},
		{"password with @ in a URL", "DATABASE_URL=postgres://app:p@ss@db/app", "DATABASE_URL=postgres://app:[REDACTED]@db/app", 1},
		{"secret key holding a URL with a password", "DB_PASSWORD=postgres://app:p4ss@db/app\n", "DB_PASSWORD=[REDACTED]\n", 2},
		{"jdbc URL with userinfo", "url: jdbc:postgresql://app:pw1@db:5432/app", "url: jdbc:postgresql://app:[REDACTED]@db:5432/app", 1},
		// Keys that name a secret.
		{"env assignment", "DB_PASSWORD=hunter2\nDB_USER=app\n", "DB_PASSWORD=[REDACTED]\nDB_USER=app\n", 1},
		{"shell export quoted", `export API_TOKEN="abc def"`, `export API_TOKEN="[REDACTED]"`, 1},
		{"shell inline env", "STRIPE_SECRET_KEY=sk_live_1 ./run.sh --port 80", "STRIPE_SECRET_KEY=[REDACTED] ./run.sh --port 80", 1},
		{"command-line flag", "args: [--db-password=hunter2, --port=80]", "args: [--db-password=[REDACTED], --port=80]", 1},
		{"YAML plain", "db:\n  password: hunter2\n  user: app\n", "db:\n  password: [REDACTED]\n  user: app\n", 1},
		{"YAML quoted with comment", "clientSecret: \"abc\\\"def\" # from the console\n", "clientSecret: \"[REDACTED]\" # from the console\n", 1},
		{"YAML single quoted", "apiKey: 'it''s'\n", "apiKey: '[REDACTED]'\n", 1},
		{"YAML sequence item", "- token: abc\n  name: x\n", "- token: [REDACTED]\n  name: x\n", 1},
		{"YAML anchor", "password: &pw hunter2\n", "password: &pw [REDACTED]\n", 1},
		{"YAML block scalar", "privateKey: |\n  line one\n\n  line two\nnext: 1\n", "privateKey: |\n  [REDACTED]\nnext: 1\n", 1},
		{"YAML folded block at end", "secret: >-\n    aaa\n    bbb", "secret: >-\n    [REDACTED]", 1},
		{"YAML with CRLF", "password: hunter2\r\nuser: app\r\n", "password: [REDACTED]\r\nuser: app\r\n", 1},
		{"compose environment map", "environment:\n  POSTGRES_PASSWORD: example\n  POSTGRES_DB: app\n", "environment:\n  POSTGRES_PASSWORD: [REDACTED]\n  POSTGRES_DB: app\n", 1},
		{"compose environment list", "environment:\n  - POSTGRES_PASSWORD=example\n", "environment:\n  - POSTGRES_PASSWORD=[REDACTED]\n", 1},
		{"HTTP header", "X-Api-Key: 0123abcd\n", "X-Api-Key: [REDACTED]\n", 1},
		{"JSON", `{"password":"hunter2","user":"bob","apiKey": "k-1"}`, `{"password":"[REDACTED]","user":"bob","apiKey": "[REDACTED]"}`, 2},
		{"docker config auth", `{"auths":{"ghcr.io":{"auth":"Ym90OnRva2Vu"}}}`, `{"auths":{"ghcr.io":{"auth":"[REDACTED]"}}}`, 1},
		{"TOML", "[db]\ntoken = \"abc\" # rotate\n", "[db]\ntoken = \"[REDACTED]\" # rotate\n", 1},
		{"HCL", "  secret_key = \"abc\"\n", "  secret_key = \"[REDACTED]\"\n", 1},
		{"properties with spaces", "spring.datasource.password = my pass phrase\n", "spring.datasource.password = [REDACTED]\n", 1},
		{"properties without spaces", "spring.datasource.password=hunter2\n", "spring.datasource.password=[REDACTED]\n", 1},
		{"INI", "[auth]\npasswd = hunter2 ; old\n", "[auth]\npasswd = [REDACTED] ; old\n", 1},
		{"Go literal", "\ttoken := \"abc123\"\n", "\ttoken := \"[REDACTED]\"\n", 1},
		{".NET connection string", `"Default": "Server=db;Database=app;User Id=sa;Password=Str0ng!;"`, `"Default": "Server=db;Database=app;User Id=sa;Password=[REDACTED];"`, 1},
		{".NET Pwd", "Server=db;Uid=app;Pwd=abc;", "Server=db;Uid=app;Pwd=[REDACTED];", 1},
		{".NET quoted password", "Server=db;Password='a;b';", "Server=db;Password='[REDACTED]';", 1},
		{"JDBC query parameter", "jdbc:mysql://db:3306/app?user=app&password=s3cr3t&useSSL=true", "jdbc:mysql://db:3306/app?user=app&password=[REDACTED]&useSSL=true", 1},
		{"SQL Server JDBC", "jdbc:sqlserver://db;user=sa;password=pw;encrypt=true", "jdbc:sqlserver://db;user=sa;password=[REDACTED];encrypt=true", 1},
		{"URL query token", "GET /cb?code=1&access_token=abc.def&x=1", "GET /cb?code=1&access_token=[REDACTED]&x=1", 1},
		{"npmrc", "//registry.npmjs.org/:_authToken=npm_abc123\n_auth=Ym90\n", "//registry.npmjs.org/:_authToken=[REDACTED]\n_auth=[REDACTED]\n", 2},
		{"Dockerfile ENV", "ENV DB_PASSWORD hunter2\nENV API_TOKEN=abc\nENV PORT 80\n", "ENV DB_PASSWORD [REDACTED]\nENV API_TOKEN=[REDACTED]\nENV PORT 80\n", 2},
		{"kubectl literal", "kubectl create secret generic db --from-literal=password=hunter2", "kubectl create secret generic db --from-literal=password=[REDACTED]", 1},
		// Kubernetes.
		{"Secret data and stringData", `apiVersion: v1
kind: Secret
metadata:
  name: db-credentials
  namespace: app
type: Opaque
data:
  username: YXBw
  password: aHVudGVyMg== # base64
  .dockerconfigjson: "eyJhdXRocyI6e319"
stringData:
  config.yaml: |
    host: db
    port: 5432
  empty: ""
`, `apiVersion: v1
kind: Secret
metadata:
  name: db-credentials
  namespace: app
type: Opaque
data:
  username: [REDACTED]
  password: [REDACTED] # base64
  .dockerconfigjson: "[REDACTED]"
stringData:
  config.yaml: |
    [REDACTED]
  empty: ""
`, 4},
		{"Secret in a multi-document file", "kind: ConfigMap\ndata:\n  mode: fast\n---\nkind: Secret\ndata:\n  key: dmFs\n---\nkind: ConfigMap\ndata:\n  level: info\n",
			"kind: ConfigMap\ndata:\n  mode: fast\n---\nkind: Secret\ndata:\n  key: [REDACTED]\n---\nkind: ConfigMap\ndata:\n  level: info\n", 1},
		{"Secret as JSON", `{"apiVersion":"v1","kind":"Secret","data":{"user":"YXBw","key":"dmFs"},"metadata":{"name":"x"}}`,
			`{"apiVersion":"v1","kind":"Secret","data":{"user":"[REDACTED]","key":"[REDACTED]"},"metadata":{"name":"x"}}`, 2},
		{"env var with a literal value", `        env:
        - name: DB_PASSWORD
          value: "hunter2"
        - name: LOG_LEVEL
          value: debug
        - value: s3cr3t
          name: API_TOKEN
`, `        env:
        - name: DB_PASSWORD
          value: "[REDACTED]"
        - name: LOG_LEVEL
          value: debug
        - value: [REDACTED]
          name: API_TOKEN
`, 2},
		{"env var as JSON", `[{"name": "DB_PASSWORD", "value": "hunter2"}, {"name": "PORT", "value": "80"}]`, `[{"name": "DB_PASSWORD", "value": "[REDACTED]"}, {"name": "PORT", "value": "80"}]`, 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, n := Text(tc.in)
			if got != tc.want {
				t.Errorf("Text(%q)\n got %q\nwant %q", tc.in, got, tc.want)
			}
			if n != tc.n {
				t.Errorf("Text(%q) counted %d, want %d", tc.in, n, tc.n)
			}
			if again, m := Text(got); again != got || m != 0 {
				t.Errorf("redacting again changed %q to %q (%d)", got, again, m)
			}
		})
	}
}

// TestRedactKeeps: things that look like secrets but are not stay as they
// are.
func TestRedactKeeps(t *testing.T) {
	keep := []struct{ name, in string }{
		{"secretKeyRef", `        env:
        - name: DB_PASSWORD
          valueFrom:
            secretKeyRef:
              name: db-credentials
              key: password
        - name: API_TOKEN
          valueFrom: {secretKeyRef: {name: api, key: token}}
`},
		{"secret names and refs", "envFrom:\n  - secretRef:\n      name: app-secrets\nvolumes:\n  - name: tls\n    secret:\n      secretName: foo-credentials\n"},
		{"Flux and Helm references", "spec:\n  secretRef:\n    name: git-credentials\n  passwordSecretRef:\n    name: pg\nauth:\n  existingSecret: db-creds\n  secretKeys:\n    adminPasswordKey: admin-password\n"},
		{"a Secret's metadata and type", "apiVersion: v1\nkind: Secret\nmetadata:\n  name: token-secret\n  annotations:\n    kubernetes.io/service-account.name: deployer\ntype: kubernetes.io/service-account-token\n"},
		{"ConfigMap data", "apiVersion: v1\nkind: ConfigMap\ndata:\n  mode: fast\n  config.yaml: |\n    level: info\n"},
		{"image tags and digests", "image: ghcr.io/org/token-service:v1.2.3@sha256:" + strings.Repeat("ab12", 16) + "\nimage: registry.local:5000/api:1.0\n"},
		{"ordinary config", "replicas: 3\nport: 8080\nhost: db.example.com\nserviceAccountName: deployer\nautomountServiceAccountToken: false\npasswordAuthentication: no\n"},
		{"references", "password: \"\"\ntoken: ${{ secrets.GITHUB_TOKEN }}\npassword: {{ .Values.db.password }}\nPASSWORD: $DB_PASSWORD\nAPI_KEY: ${API_KEY}\nsecret: \"${SECRET}\"\ntoken: valueFrom\npassword: ~\napiKey: vault:secret/data/api#key\n"},
		{"env var names", "ARG NPM_TOKEN\nRUN --mount=type=secret,id=npm_token npm ci\nENV PORT=8080\n"},
		{"code reading secrets", "token := os.Getenv(\"GITHUB_TOKEN\")\nif token == \"\" {\npassword = os.environ[\"DB_PASSWORD\"]\nconst apiKey = process.env.API_KEY;\napi_key = getpass()\nsecret = config.get(\"secret\")\n"},
		{"file and path keys", "GITHUB_TOKEN_FILE=/run/secrets/token\npasswordFile: /etc/pw\ntoken_url: https://auth.example.com/token\nPWD=/home/user\n"},
		{"limits", "maxTokens: 4096\nmax_tokens = 100\n"},
		{"URLs without passwords", "https://example.com:8443/path?x=1 git@github.com:org/repo.git ssh://git@github.com/org/repo https://user@host/x"},
		{"prose", "The bearer of this letter. We use sk-learn-and-some-other-library-names. Tokens: none.\nPasswords must be rotated."},
		{"already redacted", "password: [REDACTED]\nTOKEN=[REDACTED]\n\"secret\": \"[REDACTED]\"\npostgres://u:[REDACTED]@h\nAuthorization: Bearer [REDACTED]\nkey: |\n  [REDACTED]\n"},
		{"sha256 digests", "sha256:" + strings.Repeat("0f", 32) + "\nchecksum = " + strings.Repeat("e3", 32) + "\n"},
	}
	for _, tc := range keep {
		t.Run(tc.name, func(t *testing.T) {
			if got, n := Text(tc.in); got != tc.in || n != 0 {
				t.Errorf("Redact changed (%d)\n%s\nto\n%s", n, tc.in, got)
			}
		})
	}
}

func TestRedactFile(t *testing.T) {
	cases := []struct {
		path, in, want string
		n              int
	}{
		{".env", "# local settings\nDB_HOST=db\nDB_USER=app\nexport SECRET=\"a b\"\nEMPTY=\nPORT=8080 # web\n",
			"# local settings\nDB_HOST=[REDACTED]\nDB_USER=[REDACTED]\nexport SECRET=\"[REDACTED]\"\nEMPTY=\nPORT=[REDACTED] # web\n", 4},
		{"services/api/.env.production", "A='x'\r\nB=y\r\n", "A='[REDACTED]'\r\nB=[REDACTED]\r\n", 2},
		{"config/prod.env", "KEY=\"line one\nline two\"\nNEXT=1\n", "KEY=\"[REDACTED]\"\nNEXT=[REDACTED]\n", 2},
		{`deploy\staging.env`, "X=1", "X=[REDACTED]", 1},
		{".env", "UNCLOSED=\"abc\n", "UNCLOSED=\"[REDACTED]\n", 1},
		{".env", "# token " + ghToken + "\nA=[REDACTED]\n", "# token [REDACTED]\nA=[REDACTED]\n", 1},
		{".netrc", "machine github.com login bot password hunter2\n", "machine github.com login bot password [REDACTED]\n", 1},
		{"environment.yaml", "DB_HOST: db\n", "DB_HOST: db\n", 0},
		{"app/.envrc", "export TOKEN=abc\n", "export TOKEN=[REDACTED]\n", 1},
		{"deploy/secret.yaml", "kind: Secret\nstringData:\n  url: https://x\n", "kind: Secret\nstringData:\n  url: [REDACTED]\n", 1},
	}
	for _, tc := range cases {
		t.Run(tc.path, func(t *testing.T) {
			got, n := File(tc.path, tc.in)
			if got != tc.want || n != tc.n {
				t.Errorf("File(%q, %q)\n got %q (%d)\nwant %q (%d)", tc.path, tc.in, got, n, tc.want, tc.n)
			}
			if again, m := File(tc.path, got); again != got || m != 0 {
				t.Errorf("redacting again changed %q to %q (%d)", got, again, m)
			}
		})
	}
}

// TestRedactRemovesSeededSecrets is the property test: every secret of a
// seeded list, put in every form that carries it, is gone from the
// output, and the output is a fixed point.
func TestRedactRemovesSeededSecrets(t *testing.T) {
	// Provider tokens are found wherever they are.
	tokens := []string{ghToken, ghPAT, openAIKey, awsKeyID, slackToken, googleKey, jwt,
		"gho_" + strings.Repeat("k", 36), "sk-" + strings.Repeat("a1", 24), "xox" + "p-1-2-3-" + strings.Repeat("z", 12)}
	anywhere := []string{
		"%s", "leaked %s here", "TOKEN=%s", "token: %s", `{"key":"%s"}`, "url: https://x/?k=%s&y=1",
		"- --flag=%s", "\"%s\",", "(%s)", "key: |\n  %s\n", "Authorization: Bearer %s\n",
	}
	// Passwords are found where a key, URL or structure says what they are.
	passwords := []string{"hunter2", "c0rrect-h0rse_battery.staple", "S3cr3t!Pass#word", "p@ssw0rd", "Zm9vYmFy==", awsSecret}
	keyed := []string{
		"DB_PASSWORD=%s\n", "export API_TOKEN=%s", "password: %s\n", "  client_secret: \"%s\"\n", "apiKey: '%s'\n",
		`{"password":"%s"}`, `{"db": {"Password": "%s", "port": 5432}}`, "token = \"%s\"\n", "secret_key = %s\n",
		"Server=db;Password=%s;Database=x", "jdbc:mysql://db/app?user=u&password=%s&ssl=1",
		"postgres://app:%s@db:5432/app", "redis://:%s@cache:6379", "--db-password=%s --port 80",
		"ENV DB_PASSWORD %s\n", "privateKey: |\n  %s\n  more\n",
		"kind: Secret\ndata:\n  anything: %s\n", "kind: Secret\nstringData:\n  file.txt: |\n    %s\n",
		"- name: DB_PASSWORD\n  value: %s\n", `{"name": "API_TOKEN", "value": "%s"}`,
		"aws_secret_access_key = %s\n", "X-Api-Key: %s\r\n",
	}
	check := func(t *testing.T, secret, in string) {
		t.Helper()
		got, n := Text(in)
		if strings.Contains(got, secret) {
			t.Errorf("secret %q kept in %q", secret, got)
		}
		if n == 0 {
			t.Errorf("nothing counted for %q", in)
		}
		if again, m := Text(got); again != got || m != 0 {
			t.Errorf("not a fixed point: %q then %q (%d)", got, again, m)
		}
	}
	for _, secret := range tokens {
		for _, tpl := range append(anywhere, keyed...) {
			check(t, secret, fmt.Sprintf(tpl, secret))
		}
	}
	for _, secret := range passwords {
		for _, tpl := range keyed {
			in := fmt.Sprintf(tpl, secret)
			if strings.Contains(tpl, "://") && strings.Contains(secret, "/") {
				continue // not a valid URL
			}
			check(t, secret, in)
		}
	}
}

// BenchmarkRedact redacts a 1 MB multi-document manifest.
func BenchmarkRedact(b *testing.B) {
	doc := `apiVersion: apps/v1
kind: Deployment
metadata:
  name: api
spec:
  template:
    spec:
      containers:
        - name: api
          image: ghcr.io/org/api:1.2.3
          env:
            - name: DB_PASSWORD
              valueFrom:
                secretKeyRef: {name: db, key: password}
            - name: LOG_LEVEL
              value: info
          args: ["--listen=:8080", "--db=postgres://app:pw@db/app"]
---
apiVersion: v1
kind: Secret
metadata:
  name: db
stringData:
  password: hunter2
  config.yaml: |
    token: abc
---
`
	in := strings.Repeat(doc, 1<<20/len(doc))
	b.SetBytes(int64(len(in)))
	for b.Loop() {
		Text(in)
	}
}

// TestSecretWords: the word list isSecretKey uses and the expression the
// inline form uses agree, and every word contains a hint.
func TestSecretWords(t *testing.T) {
	re := regexp.MustCompile(`^(?:` + secretWords + `)$`)
	for _, w := range secretWordList {
		if !re.MatchString(w) {
			t.Errorf("%q is in secretWordList but not in secretWords", w)
		}
		if !hasSecretHint(w) {
			t.Errorf("%q has no hint", w)
		}
	}
	for _, alt := range strings.Split(secretWords, "|") {
		for _, w := range []string{strings.Replace(alt, "_?", "", 1), strings.Replace(alt, "_?", "_", 1)} {
			if !slices.Contains(secretWordList, w) {
				t.Errorf("%q is in secretWords but not in secretWordList", w)
			}
		}
	}
}

func TestIsSecretKey(t *testing.T) {
	cases := map[string]bool{
		"password": true, "DB_PASSWORD": true, "clientSecret": true, "api-key": true, "X-Api-Key": true,
		"aws_secret_access_key": true, "privateKey": true, "credentials": true, "auth": true, "_authToken": true,
		"Pwd": true, "passphrase": true,
		"secretKeyRef": false, "secretName": false, "existingSecret": false, "PASSWORD_FILE": false,
		"token_url": false, "maxTokens": false, "PWD": false, "adminPasswordKey": false, "name": false,
		"author": false, "oauth": false, "tokenTTL": false, "secretRef": false,
	}
	for key, want := range cases {
		if got := isSecretKey(key); got != want {
			t.Errorf("isSecretKey(%q) = %v, want %v", key, got, want)
		}
	}
}
