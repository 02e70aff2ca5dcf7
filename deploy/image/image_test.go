package image_test

import (
	"archive/tar"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"

	"github.com/portcullis/portcullis/deploy/image"
	"github.com/portcullis/portcullis/deploy/internal/gwbuild"
)

// TestImageRunsFromItsLayers writes the image as an OCI layout, reads it
// back, unpacks its filesystem into a directory and runs the binary from
// there against the config and bundle of the image. The config's relative
// bundle path resolves inside the unpacked tree, so no chroot is needed.
func TestImageRunsFromItsLayers(t *testing.T) {
	created := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	img, err := image.Build(image.Options{
		Binary: gwbuild.Binary(t), Config: "portcullis.yaml", Bundle: filepath.Join(gwbuild.Root(t), "bundles/portcullis"),
		CABundle: "testdata/roots.pem",
		Arch:     runtime.GOARCH, Version: "v9.9.9", Revision: "abc", Created: created,
	})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.AppendImage(img); err != nil {
		t.Fatal(err)
	}
	idx, err := p.ImageIndex()
	if err != nil {
		t.Fatal(err)
	}
	m, err := idx.IndexManifest()
	if err != nil || len(m.Manifests) != 1 {
		t.Fatalf("index: %v, %d manifests", err, len(m.Manifests))
	}
	img, err = p.Image(m.Manifests[0].Digest)
	if err != nil {
		t.Fatal(err)
	}

	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	c := cf.Config
	if c.User != "65532:65532" {
		t.Errorf("user %q, want 65532:65532 (non-root)", c.User)
	}
	if got := strings.Join(append(c.Entrypoint, c.Cmd...), " "); got != "/portcullis run --config /etc/portcullis/portcullis.yaml" {
		t.Errorf("entrypoint+cmd %q", got)
	}
	if cf.OS != "linux" || cf.Architecture != runtime.GOARCH || !cf.Created.Time.Equal(created) {
		t.Errorf("os %q arch %q created %v", cf.OS, cf.Architecture, cf.Created)
	}

	root := t.TempDir()
	entries := extract(t, img, root)
	want := map[string]struct {
		uid  int
		mode os.FileMode
	}{
		"portcullis":                     {0, 0o555},
		"etc/passwd":                     {0, 0o444},
		"etc/portcullis/portcullis.yaml": {0, 0o444},
		"etc/portcullis/bundles/portcullis/.manifest": {0, 0o444},
		"tmp":                        {0, 0o1777},
		"var/lib/portcullis/spool":   {image.UID, 0o700},
		"var/lib/portcullis/bundles": {image.UID, 0o700},
	}
	for name, w := range want {
		h, ok := entries[name]
		switch {
		case !ok:
			t.Errorf("%s: missing from the image", name)
		case h.Uid != w.uid || os.FileMode(h.Mode) != w.mode:
			t.Errorf("%s: uid %d mode %o, want uid %d mode %o", name, h.Uid, h.Mode, w.uid, w.mode)
		}
	}
	// Only the volumes and /tmp may be writable by the gateway's user: the
	// image must run with a read-only root filesystem.
	for name, h := range entries {
		writable := h.Uid == image.UID && h.Mode&0o200 != 0 || h.Mode&0o002 != 0
		if writable && name != "tmp" && !strings.HasPrefix(name, "var/lib/portcullis") && !strings.HasPrefix(name, "home/nonroot") {
			t.Errorf("%s: writable by the gateway's user (uid %d mode %o)", name, h.Uid, h.Mode)
		}
	}
	passwd, err := os.ReadFile(filepath.Join(root, "etc/passwd"))
	if err != nil || !strings.Contains(string(passwd), "nonroot:x:65532:65532:") {
		t.Errorf("etc/passwd: %v %q", err, passwd)
	}

	if got, err := os.ReadFile(filepath.Join(root, "etc/ssl/certs/ca-certificates.crt")); err != nil || string(got) != string(mustRead(t, "testdata/roots.pem")) {
		t.Errorf("trusted roots in the image differ from the CA bundle given: %v", err)
	}

	bin := filepath.Join(root, "portcullis")
	if out, err := exec.Command(bin, "version").CombinedOutput(); err != nil || !strings.HasPrefix(string(out), "portcullis ") {
		t.Errorf("portcullis version: %v %q", err, out)
	}
	out, err := exec.Command(bin, "check", "--config", filepath.Join(root, "etc/portcullis/portcullis.yaml")).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "OK (2 routes)") {
		t.Errorf("portcullis check on the image's config: %v\n%s", err, out)
	}
}

// extract writes the image's flattened filesystem under root (modes
// clamped so that the test can clean up) and returns its tar headers by name.
func extract(t *testing.T, img v1.Image, root string) map[string]*tar.Header {
	t.Helper()
	rc := mutate.Extract(img)
	defer rc.Close()
	tr := tar.NewReader(rc)
	entries := map[string]*tar.Header{}
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return entries
		}
		if err != nil {
			t.Fatal(err)
		}
		entries[h.Name] = h
		dst := filepath.Join(root, filepath.FromSlash(h.Name))
		if !strings.HasPrefix(dst, root+string(filepath.Separator)) {
			t.Fatalf("%s: outside the image root", h.Name)
		}
		switch h.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(dst, 0o755); err != nil {
				t.Fatal(err)
			}
		case tar.TypeReg:
			f, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, os.FileMode(h.Mode)|0o600)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := io.Copy(f, tr); err != nil {
				t.Fatal(err)
			}
			if err := f.Close(); err != nil {
				t.Fatal(err)
			}
		default:
			t.Fatalf("%s: unexpected tar entry type %c", h.Name, h.Typeflag)
		}
	}
}

func mustRead(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestBuildRefusesIncompleteOptions(t *testing.T) {
	t.Parallel()
	ok := image.Options{Binary: "portcullis.yaml", Config: "portcullis.yaml", Bundle: "testdata", CABundle: "testdata/roots.pem", Arch: "amd64"}
	for _, tc := range []struct {
		name string
		edit func(o *image.Options)
		want string
	}{
		{"no CA bundle is refused", func(o *image.Options) { o.CABundle = "" }, "binary, config, bundle, CA bundle and arch are required"},
		{"a CA bundle without certificates is refused", func(o *image.Options) { o.CABundle = "portcullis.yaml" }, "portcullis.yaml: no PEM certificate"},
		{"a missing binary is refused", func(o *image.Options) { o.Binary = "testdata/nope" }, "testdata/nope"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := ok
			tc.edit(&o)
			_, err := image.Build(o)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want an error containing %q", err, tc.want)
			}
		})
	}
}
