package analyze

import "testing"

func TestNodeDetector(t *testing.T) {
	tests := []struct {
		name  string
		files map[string]string
		want  []Service
		errs  []ServiceError
	}{
		{
			name: "express with env port fallback, ioredis, engines and npm lock",
			files: map[string]string{
				"package.json": `{
  "name": "@shop/cart-api",
  "main": "src/server.js",
  "scripts": {"start": "node src/server.js", "test": "jest"},
  "engines": {"node": ">=20"},
  "dependencies": {"express": "^4.19.0", "ioredis": "^5.4.0"},
  "devDependencies": {"jest": "^29.0.0"}
}`,
				"package-lock.json": "{}",
				"src/server.js": `const express = require('express');
const Redis = require('ioredis');

const app = express();
const redis = new Redis(process.env.REDIS_URL);

app.get('/healthz', (req, res) => res.send('ok'));

app.listen(process.env.PORT || 3000, () => console.log('up'));
`,
				"test/server.test.js": "process.env.TEST_ONLY\n",
				".env.example":        "REDIS_URL=redis://localhost:6379\nLOG_LEVEL=info\n",
			},
			want: []Service{{
				Name: "cart-api", Path: ".", Detector: "node", Language: LangJavaScript, LanguageVersion: "20",
				Framework: "express", BuildTool: "npm", Entrypoint: "node src/server.js", Project: "package.json",
				Lockfile: "package-lock.json", Port: 3000, PortSource: "src/server.js:9", HealthPath: "/healthz",
				Env: []EnvVar{
					{Name: "LOG_LEVEL", Default: "info", Source: ".env.example:2"},
					{Name: "PORT", Default: "3000", Source: "src/server.js:9"},
					{Name: "REDIS_URL", Secret: true, Source: "src/server.js:5"},
				},
				Backing: []Backing{{Kind: BackingRedis, Evidence: "package.json: ioredis"}},
			}},
		},
		{
			name: "pnpm typescript nest builds to dist/main.js",
			files: map[string]string{
				"services/users/package.json": `{
  "name": "users",
  "scripts": {"build": "nest build", "start": "nest start", "start:prod": "node dist/main"},
  "dependencies": {"@nestjs/core": "^10.0.0", "@nestjs/common": "^10.0.0", "pg": "^8.11.0"},
  "devDependencies": {"typescript": "^5.4.0"}
}`,
				"services/users/pnpm-lock.yaml": "lockfileVersion: '9.0'\n",
				"services/users/src/main.ts": `import { NestFactory } from '@nestjs/core';

async function bootstrap() {
  const app = await NestFactory.create(AppModule);
  const port = parseInt(process.env.APP_PORT ?? '4000', 10);
  await app.listen(port);
}
bootstrap();
`,
				"services/users/src/users.controller.spec.ts": "process.env.SPEC_ONLY\n",
			},
			want: []Service{{
				Name: "users", Path: "services/users", Detector: "node", Language: LangTypeScript, LanguageVersion: "22",
				Framework: "nestjs", BuildTool: "pnpm", Entrypoint: "node dist/main.js", Project: "package.json",
				Lockfile: "pnpm-lock.yaml", Port: 4000, PortSource: "src/main.ts:5",
				Env:     []EnvVar{{Name: "APP_PORT", Default: "4000", Source: "src/main.ts:5"}},
				Backing: []Backing{{Kind: BackingPostgres, Evidence: "package.json: pg"}},
				Assumptions: []string{
					"Node.js 22 assumed: no engines.node, .nvmrc or .node-version",
					"runs `pnpm run build` before start",
					"entrypoint `node dist/main.js` assumed: start script `nest start` is not a plain node command; runs the build output",
				},
			}},
		},
		{
			name: "library and workspace root skipped",
			files: map[string]string{
				"package.json":                         `{"name": "root", "private": true, "workspaces": ["packages/*"], "devDependencies": {"express": "^4"}}`,
				"yarn.lock":                            "",
				"packages/utils/package.json":          `{"name": "@shop/utils", "main": "index.js", "scripts": {"test": "node --test"}}`,
				"packages/utils/index.js":              "module.exports = { add: (a, b) => a + b };\n",
				"packages/web/package.json":            `{"name": "@shop/web", "scripts": {"build": "next build", "start": "next start -p 4100"}, "dependencies": {"next": "14.2.0", "react": "18.3.0"}}`,
				"packages/web/.node-version":           "v20.11.1\n",
				"packages/web/app/api/health/route.ts": "export function GET() { return Response.json({ ok: true }); }\n",
			},
			want: []Service{{
				Name: "web", Path: "packages/web", Detector: "node", Language: LangJavaScript, LanguageVersion: "20",
				Framework: "next", BuildTool: "yarn", Entrypoint: "next start -p 4100", Project: "package.json",
				Port: 4100, PortSource: "package.json: scripts.start", HealthPath: "/api/health",
				Assumptions: []string{
					"lock file yarn.lock is at the workspace root, outside the build context",
					"runs `yarn run build` before start",
				},
			}},
		},
		{
			name: "malformed package.json reports its line, sibling still found",
			files: map[string]string{
				"bad/package.json":  "{\n  \"name\": \"bad\",\n  \"scripts\": {\"start\": \"node index.js\"},,\n}\n",
				"good/package.json": `{"name": "good", "scripts": {"start": "node worker.js"}}`,
				"good/worker.js":    "setInterval(() => console.log(process.env.QUEUE), 1000);\n",
			},
			want: []Service{{
				Name: "good", Path: "good", Detector: "node", Language: LangJavaScript, LanguageVersion: "22",
				Framework: "worker", BuildTool: "npm", Entrypoint: "node worker.js", Project: "package.json",
				Env: []EnvVar{{Name: "QUEUE", Source: "worker.js:1"}},
				Assumptions: []string{
					"Node.js 22 assumed: no engines.node, .nvmrc or .node-version",
					"no lock file: `npm install` instead of `npm ci`",
				},
			}},
			errs: []ServiceError{{
				Path: "bad", File: "bad/package.json", Line: 3,
				Message: "invalid package.json: invalid character ',' looking for beginning of object key string",
				Hint:    "fix the JSON in package.json",
			}},
		},
		{
			name: "yarn, nvmrc, fastify and nodemon start with main",
			files: map[string]string{
				"package.json": `{"name": "Catalog_API", "main": "app.js", "scripts": {"start": "nodemon app.js"}, "dependencies": {"fastify": "^4", "mongoose": "^8"}}`,
				"yarn.lock":    "",
				".nvmrc":       "lts/iron\n",
				"app.js": `const fastify = require('fastify')();
const PORT = Number(process.env.PORT) || 8000;
fastify.get('/ping', async () => 'pong');
fastify.listen({ port: PORT, host: '0.0.0.0' });
`,
			},
			want: []Service{{
				Name: "catalog-api", Path: ".", Detector: "node", Language: LangJavaScript, LanguageVersion: "20",
				Framework: "fastify", BuildTool: "yarn", Entrypoint: "node app.js", Project: "package.json",
				Lockfile: "yarn.lock", Port: 8000, PortSource: "app.js:2", HealthPath: "/ping",
				Env:     []EnvVar{{Name: "PORT", Source: "app.js:2"}},
				Backing: []Backing{{Kind: BackingMongoDB, Evidence: "package.json: mongoose"}},
				Assumptions: []string{
					"entrypoint `node app.js` assumed from main: start script `nodemon app.js` is not a plain node command",
				},
			}},
		},
		{
			name: "express with no visible port gets the default",
			files: map[string]string{
				"api/package.json":        `{"name": "api", "main": "index.js", "dependencies": {"express": "^4"}}`,
				"api/index.js":            "const app = require('express')();\nmodule.exports = app;\n",
				"api/npm-shrinkwrap.json": "{}",
			},
			want: []Service{{
				Name: "api", Path: "api", Detector: "node", Language: LangJavaScript, LanguageVersion: "22",
				Framework: "express", BuildTool: "npm", Entrypoint: "node index.js", Project: "package.json",
				Lockfile: "npm-shrinkwrap.json", Port: 3000, PortSource: "default for express",
				Assumptions: []string{
					"Node.js 22 assumed: no engines.node, .nvmrc or .node-version",
					"entrypoint `node index.js` assumed from main: no start script",
					"port 3000 assumed: default for express",
				},
			}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := writeTree(t, tt.files)
			got, errs := NodeDetector{}.Detect(r)
			if g, w := goJSON(t, got), goJSON(t, tt.want); g != w {
				t.Errorf("services:\n got %s\nwant %s", g, w)
			}
			if g, w := goJSON(t, errs), goJSON(t, tt.errs); g != w {
				t.Errorf("errors:\n got %s\nwant %s", g, w)
			}
		})
	}
}

func TestNodeMajor(t *testing.T) {
	for in, want := range map[string]string{">=20": "20", "^18.17": "18", "20.x": "20", "v20.11.0\n": "20", "lts/iron": "20", "lts/*": "", "*": ""} {
		if got := nodeMajor(in); got != want {
			t.Errorf("nodeMajor(%q) = %q, want %q", in, got, want)
		}
	}
}
