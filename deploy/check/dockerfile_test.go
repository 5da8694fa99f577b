package check

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
)

// repoRoot is the build context of every Dockerfile, relative to this
// package's directory.
const repoRoot = "../.."

// checkDockerfile parses a Dockerfile with BuildKit's parser and returns
// every problem found: no stage, a FROM image without a pinned tag, a final
// stage without a non-root USER, a COPY or ADD source missing from root (the
// build context).
func checkDockerfile(root string, r io.Reader) []error {
	res, err := parser.Parse(r)
	if err != nil {
		return []error{fmt.Errorf("parsing: %w", err)}
	}
	stages, _, err := instructions.Parse(res.AST, nil)
	if err != nil {
		return []error{fmt.Errorf("parsing instructions: %w", err)}
	}
	if len(stages) == 0 {
		return []error{errors.New("no FROM: the Dockerfile has no stage")}
	}
	var errs []error
	named := map[string]bool{}
	for _, st := range stages {
		if !named[strings.ToLower(st.BaseName)] {
			if err := pinned(st.BaseName); err != nil {
				errs = append(errs, err)
			}
		}
		if st.Name != "" {
			named[strings.ToLower(st.Name)] = true
		}
		for _, cmd := range st.Commands {
			var sources []string
			switch c := cmd.(type) {
			case *instructions.CopyCommand:
				if c.From != "" {
					continue // from another stage or image, not the context
				}
				sources = c.SourcePaths
			case *instructions.AddCommand:
				sources = c.SourcePaths
			}
			for _, src := range sources {
				if strings.Contains(src, "://") {
					errs = append(errs, fmt.Errorf("%s: remote source %q: vendor it into the repository instead", cmd.Name(), src))
					continue
				}
				if strings.ContainsAny(src, "*?[") {
					if m, _ := filepath.Glob(filepath.Join(root, src)); len(m) == 0 {
						errs = append(errs, fmt.Errorf("%s: source %q matches nothing in the build context (the repository root)", cmd.Name(), src))
					}
					continue
				}
				if _, err := os.Stat(filepath.Join(root, src)); err != nil {
					errs = append(errs, fmt.Errorf("%s: source %q does not exist in the build context (the repository root): %w", cmd.Name(), src, err))
				}
			}
		}
	}
	final := stages[len(stages)-1]
	user := ""
	for _, cmd := range final.Commands {
		if u, ok := cmd.(*instructions.UserCommand); ok {
			user = u.User
		}
	}
	if user == "" {
		errs = append(errs, fmt.Errorf("final stage %q has no USER: the image would run as root; add USER 65532:65532", final.BaseName))
	} else if name, _, _ := strings.Cut(user, ":"); name == "root" || name == "0" {
		errs = append(errs, fmt.Errorf("final stage runs as USER %s (root): use an unprivileged uid such as 65532", user))
	}
	return errs
}

// pinned reports an image reference without an explicit, non-latest tag or
// digest.
func pinned(image string) error {
	if strings.Contains(image, "@sha256:") {
		return nil
	}
	last := image[strings.LastIndex(image, "/")+1:]
	_, tag, ok := strings.Cut(last, ":")
	switch {
	case strings.Contains(image, "$"):
		return fmt.Errorf("FROM %s: the image is chosen by a build argument; pin it by tag in the Dockerfile", image)
	case !ok || tag == "":
		return fmt.Errorf("FROM %s: no tag, so it floats with latest; pin it (e.g. %s:1.2.3)", image, image)
	case tag == "latest":
		return fmt.Errorf("FROM %s: latest is not a pinned tag", image)
	}
	return nil
}

func TestDockerfiles(t *testing.T) {
	files, err := filepath.Glob("../docker/*.Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{"chainsim": false, "ingest": false, "aggregator": false, "liqstream": false}
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".Dockerfile")
		want[name] = true
		t.Run(name, func(t *testing.T) {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			for _, err := range checkDockerfile(repoRoot, strings.NewReader(string(b))) {
				t.Errorf("%s: %v", f, err)
			}
			if !strings.Contains(string(b), "-X main.version=") {
				t.Errorf("%s: the build sets no version (-ldflags -X main.version=...)", f)
			}
			if !strings.Contains(string(b), "./cmd/"+name) {
				t.Errorf("%s: does not build ./cmd/%s", f, name)
			}
			if _, err := os.Stat(f + ".dockerignore"); err != nil {
				t.Errorf("%s: no %s.dockerignore beside it: the whole repository (.data, .git) would be sent as context", f, filepath.Base(f))
			}
		})
	}
	for name, found := range want {
		if !found {
			t.Errorf("deploy/docker/%s.Dockerfile is missing: every deployable service has an image", name)
		}
	}
}

// TestDockerfileCheckFails feeds bad Dockerfiles and expects each problem.
func TestDockerfileCheckFails(t *testing.T) {
	tests := []struct {
		name, dockerfile, want string
	}{
		{"root user", "FROM golang:1.26 AS b\nFROM gcr.io/distroless/static:nonroot\nCOPY --from=b /x /x\nUSER root\n", "root"},
		{"no user", "FROM debian:bookworm-slim\nRUN true\n", "no USER"},
		{"unpinned", "FROM golang AS b\nFROM scratch:1\nUSER 1000\n", "no tag"},
		{"latest", "FROM alpine:latest\nUSER 1000\n", "latest"},
		{"registry port, no tag", "FROM localhost:5000/alpine\nUSER 1000\n", "no tag"},
		{"missing source", "FROM alpine:3.20\nCOPY services/nope/ /src/\nUSER 1000\n", "does not exist"},
		{"glob matches nothing", "FROM alpine:3.20\nCOPY nope/*.go /src/\nUSER 1000\n", "matches nothing"},
		{"no stage", "# nothing\n", "parsing"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			errs := checkDockerfile(repoRoot, strings.NewReader(tt.dockerfile))
			if !strings.Contains(fmt.Sprint(errs), tt.want) {
				t.Fatalf("errors %v, want one mentioning %q", errs, tt.want)
			}
		})
	}
	// And a good one passes, so the cases above fail for their own reason.
	good := "FROM golang:1.26 AS b\nCOPY services/lib/go.mod /src/\nFROM gcr.io/distroless/static-debian12:nonroot\nCOPY --from=b /x /x\nUSER 65532:65532\n"
	if errs := checkDockerfile(repoRoot, strings.NewReader(good)); len(errs) > 0 {
		t.Fatalf("good Dockerfile: %v", errs)
	}
}
