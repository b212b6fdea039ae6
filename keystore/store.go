package keystore

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/gotwister/twister/keys"
)

// Errors of the key store. Returned errors wrap these (use errors.Is) and
// name the account.
var (
	// ErrWrongPassphrase: the passphrase does not open the account's key.
	ErrWrongPassphrase = errors.New("keystore: wrong passphrase")
	// ErrNoAccount: there is no account of that name in this store.
	ErrNoAccount = errors.New("keystore: no such account")
	// ErrExists: Create or Import for a name that already has a record
	// (possibly a corrupt one: Delete it first to replace it).
	ErrExists = errors.New("keystore: account already exists")
	// ErrCorrupt: the account's record is damaged or not a record this
	// program can read. Other accounts are unaffected, and the record is
	// left as it is until Delete removes it.
	ErrCorrupt = errors.New("keystore: corrupt account record")
	// ErrLocked: the session was locked (Lock, Delete) and cannot sign.
	ErrLocked = errors.New("keystore: account is locked")
	// ErrBadUsername: not a twister username (1–16 of a–z, 0–9, _).
	ErrBadUsername = errors.New("keystore: invalid username")
	// ErrEmptyPassphrase: a key is never stored under an empty passphrase.
	ErrEmptyPassphrase = errors.New("keystore: the passphrase must not be empty")
)

// recordPrefix is the backend key prefix of account records.
const recordPrefix = "account/"

func recordKey(user string) string { return recordPrefix + user }

// checkUsername applies twister's username rule (consensus CheckUsername):
// 1 to 16 bytes of a–z, 0–9 and _.
func checkUsername(user string) error {
	if len(user) < 1 || len(user) > 16 {
		return fmt.Errorf("%w %q: must be 1 to 16 characters", ErrBadUsername, user)
	}
	for i := 0; i < len(user); i++ {
		c := user[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_') {
			return fmt.Errorf("%w %q: only a-z, 0-9 and _ are allowed", ErrBadUsername, user)
		}
	}
	return nil
}

// Options configure a Store. The zero value means the defaults.
type Options struct {
	// KDF are the scrypt parameters of records written from now on
	// (Create, Import, ChangePassphrase). Zero means DefaultKDF.
	KDF KDFParams
	// Rand supplies salts and nonces; nil means crypto/rand. (New keys
	// from Create always come from crypto/rand.)
	Rand io.Reader
	// Now tells the creation time of new accounts; nil means time.Now.
	Now func() time.Time
}

// Store is a set of passphrase-encrypted accounts in a Backend, plus the
// sessions unlocked in this process. It is safe for concurrent use; two
// Stores over one backend (two browser tabs) do not coordinate writes.
type Store struct {
	b    Backend
	kdf  KDFParams
	rand io.Reader
	now  func() time.Time

	writeMu sync.Mutex // serializes writes (check, derive, put)

	mu       sync.Mutex
	sessions map[string]*Session
}

// Open returns a Store over b with the default options.
func Open(ctx context.Context, b Backend) (*Store, error) {
	return OpenWith(ctx, b, Options{})
}

// OpenWith returns a Store over b. It checks that the backend answers
// (listing its keys) and that the options are valid.
func OpenWith(ctx context.Context, b Backend, o Options) (*Store, error) {
	if b == nil {
		return nil, errors.New("keystore: nil backend")
	}
	if o.KDF == (KDFParams{}) {
		o.KDF = DefaultKDF
	}
	if err := o.KDF.Validate(); err != nil {
		return nil, err
	}
	if o.Rand == nil {
		o.Rand = rand.Reader
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if _, err := b.Keys(ctx); err != nil {
		return nil, fmt.Errorf("keystore: backend does not answer: %w", err)
	}
	return &Store{b: b, kdf: o.KDF, rand: o.Rand, now: o.Now, sessions: map[string]*Session{}}, nil
}

// KDF returns the scrypt parameters the store writes new records with.
func (s *Store) KDF() KDFParams { return s.kdf }

// AccountInfo describes an account without unlocking it.
type AccountInfo struct {
	User    string
	PubKey  string    // public key, lowercase hex (as dumppubkey prints it)
	Created time.Time // when the account was first stored
	KDF     KDFParams // the record's scrypt parameters
	// Err is non-nil (wrapping ErrCorrupt, or a backend error) when the
	// account's record cannot be read; the other fields but User are then
	// empty.
	Err error
}

// getRecord reads user's stored record. A value the backend itself finds
// corrupt (ErrCorrupt with ok=true, e.g. not bytes) counts as existing.
func (s *Store) getRecord(ctx context.Context, user string) ([]byte, bool, error) {
	raw, ok, err := s.b.Get(ctx, recordKey(user))
	if err != nil {
		if errors.Is(err, ErrCorrupt) {
			return nil, true, forUser(user, err)
		}
		return nil, ok, fmt.Errorf("keystore: reading account %q: %w", user, err)
	}
	return raw, ok, nil
}

// load reads and decodes user's record. raw is the stored bytes (also
// returned on ErrCorrupt, for compare-before-write).
func (s *Store) load(ctx context.Context, user string) (*record, []byte, error) {
	if err := checkUsername(user); err != nil {
		return nil, nil, err
	}
	raw, ok, err := s.getRecord(ctx, user)
	if err != nil {
		return nil, nil, err
	}
	if !ok {
		return nil, nil, fmt.Errorf("%w %q", ErrNoAccount, user)
	}
	r, err := decodeRecord(raw)
	if err != nil {
		return nil, raw, forUser(user, err)
	}
	if r.User != user {
		return nil, raw, &CorruptError{User: user, Detail: fmt.Sprintf("the record belongs to %q", r.User)}
	}
	return r, raw, nil
}

// unseal derives the record's key from passphrase and opens it.
func (s *Store) unseal(ctx context.Context, user, passphrase string) (*keys.PrivateKey, *record, []byte, error) {
	r, raw, err := s.load(ctx, user)
	if err != nil {
		return nil, nil, nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, nil, nil, err
	}
	dk, err := deriveKey(passphrase, r.KDF, r.Salt)
	if err != nil {
		return nil, nil, nil, err
	}
	defer wipe(dk)
	k, err := r.open(dk)
	if errors.Is(err, errAuth) {
		return nil, nil, nil, fmt.Errorf("%w for account %q; the key stays locked", ErrWrongPassphrase, user)
	}
	if err != nil {
		return nil, nil, nil, forUser(user, err)
	}
	return k, r, raw, nil
}

// store seals k for user and writes it; the caller holds writeMu. If prev
// is non-nil, the record currently stored must still be exactly prev;
// if prev is nil, there must be no record at all.
func (s *Store) store(ctx context.Context, k *keys.PrivateKey, user, passphrase string, created time.Time, prev []byte) error {
	if passphrase == "" {
		return ErrEmptyPassphrase
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	r, err := sealRecord(k, user, passphrase, s.kdf, created, s.rand)
	if err != nil {
		return err
	}
	enc := r.encode()
	// Check the new record completely before it replaces anything: it
	// must decode to what was sealed.
	if back, err := decodeRecord(enc); err != nil || !bytes.Equal(back.encode(), enc) {
		return fmt.Errorf("keystore: new record for %q does not read back: %v", user, err)
	}
	cur, ok, err := s.getRecord(ctx, user)
	switch {
	case prev == nil && ok:
		return fmt.Errorf("%w: %q", ErrExists, user)
	case err != nil:
		return err
	case prev != nil && (!ok || !bytes.Equal(cur, prev)):
		return fmt.Errorf("keystore: account %q changed while its passphrase was being changed; nothing written", user)
	}
	if err := s.b.Put(ctx, recordKey(user), enc); err != nil {
		return fmt.Errorf("keystore: writing account %q: %w", user, err)
	}
	return nil
}

func (s *Store) checkNew(ctx context.Context, user, passphrase string) error {
	if err := checkUsername(user); err != nil {
		return err
	}
	if passphrase == "" {
		return ErrEmptyPassphrase
	}
	_, ok, err := s.getRecord(ctx, user)
	if ok {
		return fmt.Errorf("%w: %q", ErrExists, user)
	}
	return err
}

// Create makes a new random key for user, stores it under passphrase and
// returns it. It refuses (ErrExists) if user already has a record, even a
// corrupt one. The account is not unlocked: call Unlock for a Session.
func (s *Store) Create(ctx context.Context, user, passphrase string) (*keys.PrivateKey, error) {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	if err := s.checkNew(ctx, user, passphrase); err != nil {
		return nil, err
	}
	k, err := keys.GenerateKey()
	if err != nil {
		return nil, fmt.Errorf("keystore: generating a key: %w", err)
	}
	if err := s.store(ctx, k, user, passphrase, s.now(), nil); err != nil {
		return nil, err
	}
	return k, nil
}

// Import stores an existing key, given as the secret string twisterd's
// dumpprivkey prints (52 characters; an uncompressed key's 51-character
// string is kept uncompressed), for user under passphrase. Malformed
// strings are refused with the keys package's errors (bad checksum,
// version, length, base58 character). Leading and trailing white space is
// ignored. It refuses (ErrExists) if user already has a record.
func (s *Store) Import(ctx context.Context, user, secret, passphrase string) error {
	k, err := keys.ParseSecret(strings.TrimSpace(secret))
	if err != nil {
		return fmt.Errorf("keystore: cannot import the key for %q: %w", user, err)
	}
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	if err := s.checkNew(ctx, user, passphrase); err != nil {
		return err
	}
	return s.store(ctx, k, user, passphrase, s.now(), nil)
}

// Export returns user's key as the secret string importprivkey accepts,
// after checking passphrase: the way to move an account to another device
// or to twisterd.
func (s *Store) Export(ctx context.Context, user, passphrase string) (string, error) {
	k, _, _, err := s.unseal(ctx, user, passphrase)
	if err != nil {
		return "", err
	}
	return k.Secret(), nil
}

// Unlock opens user's key with passphrase and returns the account's
// Session, which signs and decrypts without handing out the key. Unlocking
// an account that is already unlocked checks the passphrase again and
// returns the same Session.
func (s *Store) Unlock(ctx context.Context, user, passphrase string) (*Session, error) {
	k, _, _, err := s.unseal(ctx, user, passphrase)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if cur := s.sessions[user]; cur != nil && !cur.Locked() && cur.PubKey().Equal(k.PubKey()) {
		return cur, nil
	}
	if cur := s.sessions[user]; cur != nil {
		cur.lock()
	}
	ss := newSession(user, k)
	s.sessions[user] = ss
	return ss, nil
}

// Session returns user's unlocked Session, if there is one.
func (s *Store) Session(user string) (*Session, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ss := s.sessions[user]
	return ss, ss != nil
}

// Lock locks user's Session, if any: the in-memory key is wiped and the
// Session refuses to sign from then on.
func (s *Store) Lock(user string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if ss := s.sessions[user]; ss != nil {
		ss.lock()
		delete(s.sessions, user)
	}
}

// LockAll locks every Session of the store.
func (s *Store) LockAll() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for u, ss := range s.sessions {
		ss.lock()
		delete(s.sessions, u)
	}
}

// ChangePassphrase re-encrypts user's key under newPassphrase, with the
// store's current KDF parameters (so it also raises old parameters; old
// and new passphrase may be equal for that). The old passphrase must be
// right. The change is atomic: the new record is sealed, encoded and read
// back completely in memory, the stored record is checked to be unchanged,
// and only then one Put replaces it (Backend.Put is atomic), so a failure
// at any point leaves the old record working.
func (s *Store) ChangePassphrase(ctx context.Context, user, oldPassphrase, newPassphrase string) error {
	if newPassphrase == "" {
		return ErrEmptyPassphrase
	}
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	k, r, raw, err := s.unseal(ctx, user, oldPassphrase)
	if err != nil {
		return err
	}
	return s.store(ctx, k, user, newPassphrase, time.Unix(r.Created, 0), raw)
}

// Account describes one account without unlocking it; a damaged record
// gives an error wrapping ErrCorrupt.
func (s *Store) Account(ctx context.Context, user string) (AccountInfo, error) {
	r, _, err := s.load(ctx, user)
	if err != nil {
		return AccountInfo{User: user, Err: err}, err
	}
	return AccountInfo{User: r.User, PubKey: r.Pub.Hex(), Created: time.Unix(r.Created, 0), KDF: r.KDF}, nil
}

// Accounts lists the store's accounts by username. An account whose
// record cannot be read is listed with Err set (wrapping ErrCorrupt for a
// damaged record) rather than left out, so the user can see it and decide
// to Delete it; the others are listed normally. The error is only for a
// backend that cannot list its keys.
func (s *Store) Accounts(ctx context.Context) ([]AccountInfo, error) {
	ks, err := s.b.Keys(ctx)
	if err != nil {
		return nil, fmt.Errorf("keystore: listing accounts: %w", err)
	}
	var out []AccountInfo
	for _, k := range ks {
		user, ok := strings.CutPrefix(k, recordPrefix)
		if !ok || checkUsername(user) != nil {
			continue // not an account record
		}
		info, _ := s.Account(ctx, user)
		out = append(out, info)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].User < out[j].User })
	return out, nil
}

// Delete removes user's record (even a corrupt one) and locks its
// Session. Without an exported copy of the key, the account is lost.
func (s *Store) Delete(ctx context.Context, user string) error {
	if err := checkUsername(user); err != nil {
		return err
	}
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	_, ok, err := s.getRecord(ctx, user)
	if !ok {
		if err != nil {
			return err
		}
		return fmt.Errorf("%w %q", ErrNoAccount, user)
	}
	s.Lock(user)
	if err := s.b.Delete(ctx, recordKey(user)); err != nil {
		return fmt.Errorf("keystore: deleting account %q: %w", user, err)
	}
	return nil
}
