// Command image writes the gateway's OCI image (deploy/image) as an OCI
// layout directory and a `docker load` tarball; `make image` runs it.
package main

import (
	"flag"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/portcullis/portcullis/deploy/image"
)

func main() {
	var o image.Options
	var out, tarPath, tag, created string
	flag.StringVar(&o.Binary, "binary", "", "the static gateway binary")
	flag.StringVar(&o.Config, "config", "deploy/image/portcullis.yaml", "the config installed as "+image.ConfigFile)
	flag.StringVar(&o.Bundle, "bundle", "bundles/portcullis", "the bundle directory installed as "+image.BundleDir)
	flag.StringVar(&o.CABundle, "ca-bundle", "/etc/ssl/certs/ca-certificates.crt", "the trusted roots (PEM) installed as "+image.CAFile)
	flag.StringVar(&o.Arch, "arch", runtime.GOARCH, "GOARCH of the binary")
	flag.StringVar(&o.Version, "version", "dev", "the image version (label and tag)")
	flag.StringVar(&o.Revision, "revision", "", "the commit (label)")
	flag.StringVar(&created, "created", "0", "creation time, Unix seconds (the commit time keeps builds reproducible)")
	flag.StringVar(&out, "out", "bin/image", "the OCI layout directory to write (replaced)")
	flag.StringVar(&tarPath, "tar", "bin/portcullis-image.tar", "the docker-load tarball to write; empty: none")
	flag.StringVar(&tag, "tag", "portcullis", "the image name; the tag is -version")
	flag.Parse()
	if err := run(o, out, tarPath, tag, created); err != nil {
		fmt.Fprintf(os.Stderr, "image: %v\n", err)
		os.Exit(1)
	}
}

func run(o image.Options, out, tarPath, repo, created string) error {
	secs, err := strconv.ParseInt(created, 10, 64)
	if err != nil {
		return fmt.Errorf("-created %q: want Unix seconds", created)
	}
	o.Created = time.Unix(secs, 0)
	ref, err := name.NewTag(repo + ":" + o.Version)
	if err != nil {
		return fmt.Errorf("tag: %w", err)
	}
	img, err := image.Build(o)
	if err != nil {
		return err
	}
	if err := os.RemoveAll(out); err != nil {
		return err
	}
	p, err := layout.Write(out, empty.Index)
	if err != nil {
		return fmt.Errorf("write %s: %w", out, err)
	}
	if err := p.AppendImage(img, layout.WithAnnotations(map[string]string{
		// The OCI layout names an image by its tag alone (skopeo: oci:bin/image:TAG).
		"org.opencontainers.image.ref.name": ref.TagStr(),
	})); err != nil {
		return fmt.Errorf("write %s: %w", out, err)
	}
	if tarPath != "" {
		if err := tarball.WriteToFile(tarPath, ref, img); err != nil {
			return fmt.Errorf("write %s: %w", tarPath, err)
		}
	}
	d, err := img.Digest()
	if err != nil {
		return err
	}
	fmt.Printf("%s %s → %s %s\n", ref, d, out, tarPath)
	return nil
}
