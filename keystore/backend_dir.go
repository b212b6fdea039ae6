//go:build !js

package keystore

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// DirBackend is a Backend over a directory, one file per key (native
// builds). File names are the keys with every byte outside [a-z0-9_-]
// written as %XX (so "account/alice" is "account%2Falice"); temporary files
// start with '.', which no escaped key does. Put writes a temporary file,
// syncs it and renames it over the old one, so a crash leaves either the
// old or the new record, never a torn one. The directory is created 0700
// and files 0600.
type DirBackend struct {
	dir string
}

// NewDirBackend opens (creating if needed) the directory dir.
func NewDirBackend(dir string) (*DirBackend, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("keystore: creating key directory: %w", err)
	}
	return &DirBackend{dir: dir}, nil
}

// Dir returns the directory.
func (b *DirBackend) Dir() string { return b.dir }

const hexDigits = "0123456789ABCDEF"

func escapeKey(key string) string {
	var sb strings.Builder
	for i := 0; i < len(key); i++ {
		c := key[i]
		if c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '-' {
			sb.WriteByte(c)
			continue
		}
		sb.WriteByte('%')
		sb.WriteByte(hexDigits[c>>4])
		sb.WriteByte(hexDigits[c&15])
	}
	return sb.String()
}

func unhex(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// unescapeKey inverts escapeKey; ok is false for names escapeKey never
// makes (temporary files, foreign files).
func unescapeKey(name string) (string, bool) {
	var sb strings.Builder
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '-':
			sb.WriteByte(c)
		case c == '%' && i+2 < len(name):
			hi, ok1 := unhex(name[i+1])
			lo, ok2 := unhex(name[i+2])
			if !ok1 || !ok2 {
				return "", false
			}
			sb.WriteByte(hi<<4 | lo)
			i += 2
		default:
			return "", false
		}
	}
	key := sb.String()
	if escapeKey(key) != name {
		return "", false
	}
	return key, true
}

func (b *DirBackend) path(key string) (string, error) {
	if key == "" {
		return "", errors.New("keystore: empty backend key")
	}
	return filepath.Join(b.dir, escapeKey(key)), nil
}

// Get implements Backend.
func (b *DirBackend) Get(ctx context.Context, key string) ([]byte, bool, error) {
	if err := ctx.Err(); err != nil {
		return nil, false, err
	}
	p, err := b.path(key)
	if err != nil {
		return nil, false, err
	}
	v, err := os.ReadFile(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	return v, true, nil
}

// Put implements Backend.
func (b *DirBackend) Put(ctx context.Context, key string, val []byte) (err error) {
	if err := ctx.Err(); err != nil {
		return err
	}
	p, err := b.path(key)
	if err != nil {
		return err
	}
	f, err := os.CreateTemp(b.dir, ".tmp-*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	if err = f.Chmod(0o600); err != nil {
		return err
	}
	if _, err = f.Write(val); err != nil {
		return err
	}
	if err = f.Sync(); err != nil {
		return err
	}
	if err = f.Close(); err != nil {
		return err
	}
	if err = os.Rename(f.Name(), p); err != nil {
		return err
	}
	return syncDir(b.dir)
}

// syncDir makes a rename durable; file systems that cannot sync a
// directory are tolerated.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, syscall.EINVAL) && !errors.Is(err, syscall.ENOTSUP) {
		return fmt.Errorf("keystore: syncing key directory: %w", err)
	}
	return nil
}

// Delete implements Backend.
func (b *DirBackend) Delete(ctx context.Context, key string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	p, err := b.path(key)
	if err != nil {
		return err
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return syncDir(b.dir)
}

// Keys implements Backend; files that are not escaped keys are skipped.
func (b *DirBackend) Keys(ctx context.Context) ([]string, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	ents, err := os.ReadDir(b.dir)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range ents {
		if !e.Type().IsRegular() {
			continue
		}
		if k, ok := unescapeKey(e.Name()); ok {
			out = append(out, k)
		}
	}
	return out, nil
}
