package functions

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"hash/maphash"
	"path"
	"strings"
	"sync"
	"time"

	"github.com/openfgs/openfgs/internal/codepkg"
	"github.com/openfgs/openfgs/internal/fgs"
)

// Size limits of a code package, from the reference: 50 MB for a zip or
// jar, 10 KB for inline code.
const (
	MaxCodeBytes   = 50 << 20
	MaxInlineBytes = 10 << 10
)

// Code is a code upload as a client sends it.
type Code struct {
	Type              string // inline, zip, jar, obs, Custom-Image-Swr; "" = not given
	File              string // the package, base64
	Filename          string
	URL               string
	DependList        []string
	DependVersionList []string
	EncryptKMSKeyID   string // stored and returned; openfgs does not encrypt with KMS
}

// pkg is an accepted code package, not yet stored.
type pkg struct {
	Type     string
	Filename string
	URL      string
	Data     []byte // nil for a custom image
	Digest   string
	Unpacked int64 // disk it takes once unpacked for instances
}

// accept checks a code upload for a function of this runtime and handler
// and decodes it.
func accept(runtime, handler string, c Code) (pkg, error) {
	// No dependency can exist yet: the dependency API is not implemented,
	// so naming one is naming something that does not exist.
	if deps := append(c.DependList, c.DependVersionList...); len(deps) > 0 {
		return pkg{}, fgs.Errorf(fgs.NotFound, fgs.DependencyNotFound, "dependency %q does not exist: openfgs does not manage dependencies yet, so put libraries in the code package", trimForMsg(deps[0]))
	}
	ct := c.Type
	if runtime == "Custom Image" {
		if ct != "" && ct != "Custom-Image-Swr" {
			return pkg{}, badCodeType("runtime Custom Image takes code_type Custom-Image-Swr, not %q", trimForMsg(ct))
		}
		return pkg{Type: "Custom-Image-Swr"}, nil
	}
	switch ct {
	case "":
		return pkg{}, badCodeType("code_type is required: inline, zip or jar")
	case "inline", "zip", "jar":
	case "obs":
		return pkg{}, badCodeType("code_type obs needs an object store, and this server has none configured: upload the package as zip instead")
	case "Custom-Image-Swr":
		return pkg{}, badCodeType("code_type Custom-Image-Swr needs runtime Custom Image")
	default:
		return pkg{}, badCodeType("invalid code_type %q: use inline, zip or jar", trimForMsg(ct))
	}
	if strings.HasPrefix(runtime, "Java") && ct == "inline" {
		return pkg{}, badCodeType("Java functions take code_type jar or zip, not inline")
	}
	if c.File == "" {
		return pkg{}, fgs.Errorf(fgs.Invalid, fgs.CodeMissing, "the function code must be given in func_code.file (base64)")
	}
	data, err := base64.StdEncoding.DecodeString(c.File)
	if err != nil {
		return pkg{}, fgs.Errorf(fgs.Invalid, fgs.BadCodeEncoding, "func_code.file is not valid base64")
	}
	if len(data) == 0 {
		return pkg{}, fgs.Errorf(fgs.Invalid, fgs.CodeMissing, "the function code is empty")
	}
	p := pkg{Type: ct, Data: data, URL: c.URL}
	if c.Filename != "" {
		p.Filename = path.Base(c.Filename)
	}
	switch ct {
	case "inline":
		if len(data) > MaxInlineBytes {
			return pkg{}, fgs.Errorf(fgs.TooLarge, fgs.InlineCodeTooLarge, "inline code is %d bytes; at most 10 KB is allowed: upload a zip instead", len(data))
		}
		if p.Filename == "" {
			p.Filename = inlineFilename(runtime, handler)
		}
	case "zip", "jar":
		if p.Filename == "" {
			return pkg{}, badCodeType("code_filename is required for code_type %s", ct)
		}
		if len(data) > MaxCodeBytes {
			return pkg{}, fgs.Errorf(fgs.TooLarge, fgs.CodeTooLarge, "the code package is %d bytes; at most 50 MB is allowed", len(data))
		}
		// A zip is unpacked for every instance: check now, without
		// writing, that it unpacks within the limits. A jar goes on the
		// class path as it is.
		if ct == "zip" {
			st, err := codepkg.Inspect(data, codepkg.DefaultLimits)
			if err != nil {
				return pkg{}, err
			}
			p.Unpacked = st.DiskBytes()
		} else if _, err := zip.NewReader(bytes.NewReader(data), int64(len(data))); err != nil {
			return pkg{}, fgs.Errorf(fgs.Invalid, fgs.BadCodeEncoding, "the code package is not a valid %s archive: %v", ct, err)
		}
	}
	if strings.ContainsAny(p.Filename, "/\\\x00") || p.Filename == "." || p.Filename == ".." {
		return pkg{}, fgs.Errorf(fgs.Invalid, fgs.BadCodeFilename, "invalid code_filename %q", trimForMsg(c.Filename))
	}
	if p.Unpacked == 0 {
		// Inline code and a jar are kept as one file.
		p.Unpacked = int64(len(data)) + codepkg.BlockBytes
	}
	sum := sha512.Sum512(data)
	p.Digest = hex.EncodeToString(sum[:])
	return p, nil
}

func badCodeType(format string, args ...any) error {
	return fgs.Errorf(fgs.Invalid, fgs.BadCodeType, format, args...)
}

// inlineFilename names the file inline code is kept as: the handler's
// module with the runtime's extension (index.handler -> index.py).
func inlineFilename(runtime, handler string) string {
	base := handler
	if i := strings.LastIndexByte(handler, '.'); i > 0 {
		base = handler[:i]
	}
	switch {
	case strings.HasPrefix(runtime, "Python"):
		return base + ".py"
	case strings.HasPrefix(runtime, "Node.js"):
		return base + ".js"
	case strings.HasPrefix(runtime, "PHP"):
		return base + ".php"
	}
	return base
}

// setCode records package p as f's code.
func setCode(f *fgs.Function, p pkg, now time.Time) {
	f.CodeType, f.CodeFilename, f.CodeURL = p.Type, p.Filename, p.URL
	f.CodeSize, f.UnpackedBytes, f.Digest = int64(len(p.Data)), p.Unpacked, p.Digest
	f.CPU = fgs.CPUFor(f.MemorySize)
	f.LastModified = now
	f.ImageName = fgs.LatestVersion + "-" + now.Format("060102150405")
}

// storeCode stores p's bytes and runs commit, which records the metadata
// that references them, under p's digest lock, so a concurrent
// deleteCodeIfUnused of the same digest cannot remove the bytes between
// the two. If commit fails, bytes nothing else references are removed
// again.
func (s *Service) storeCode(ctx context.Context, p pkg, commit func(context.Context) error) error {
	if p.Data == nil {
		return commit(ctx)
	}
	mu := s.locks.of(p.Digest)
	mu.Lock()
	defer mu.Unlock()
	inUse, err := s.store.CodeInUse(ctx, p.Digest)
	if err != nil {
		return err
	}
	if _, _, err := s.code.Put(ctx, bytes.NewReader(p.Data), MaxCodeBytes); err != nil {
		return err
	}
	if err := commit(ctx); err != nil {
		if !inUse {
			s.code.Delete(context.WithoutCancel(ctx), p.Digest)
		}
		return err
	}
	return nil
}

// deleteCodeIfUnused removes a package no function references any more.
// A failure is logged, not returned: the metadata change it follows has
// already happened, and an orphaned package only costs disk.
func (s *Service) deleteCodeIfUnused(ctx context.Context, digest string) {
	if digest == "" {
		return
	}
	mu := s.locks.of(digest)
	mu.Lock()
	defer mu.Unlock()
	ctx = context.WithoutCancel(ctx)
	inUse, err := s.store.CodeInUse(ctx, digest)
	if err == nil && !inUse {
		err = s.code.Delete(ctx, digest)
	}
	if err != nil {
		s.log.Warn("could not remove an unused code package", "digest", digest, "err", err)
	}
}

// digestLocks are striped locks keyed by package digest.
type digestLocks struct {
	once sync.Once
	seed maphash.Seed
	mu   [64]sync.Mutex
}

func (l *digestLocks) of(digest string) *sync.Mutex {
	l.once.Do(func() { l.seed = maphash.MakeSeed() })
	return &l.mu[maphash.String(l.seed, digest)%uint64(len(l.mu))]
}

func trimForMsg(s string) string {
	if len(s) > 80 {
		return s[:80] + "..."
	}
	return s
}
