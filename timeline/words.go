package timeline

import (
	"time"

	"github.com/gotwister/twister/post"
	bolt "go.etcd.io/bbolt"
)

// The word index (bWords, for word search) is written in batches: a post's
// own transaction only notes its key in bWordsDue, and the words of the
// posts noted go into bWords together, wordsBatch posts at a time or
// wordsDelay after the first, and always before a word search reads the
// index. A post's words touch as many pages of bWords as it has words, so
// one transaction per post spent most of its time there; a batch shares
// the pages of common words. The note is written with the post, so a
// crash loses no word: Open indexes what is still noted.
const (
	wordsBatch = 512
	wordsDelay = 500 * time.Millisecond
)

// wordsDueTx notes that post p (stored under key) has words to index.
func (ix *Index) wordsDueTx(tx *bolt.Tx, p *post.Post, key []byte) error {
	if p.IsPrivate() { // private posts have no searchable words (postWords)
		return nil
	}
	if err := tx.Bucket(bWordsDue).Put(key, nil); err != nil {
		return err
	}
	ix.wordsDue = append(ix.wordsDue, key)
	switch {
	case len(ix.wordsDue) >= wordsBatch:
		// Flushed after this transaction commits (the caller holds mu).
		ix.kickWords(0)
	case len(ix.wordsDue) == 1:
		ix.kickWords(wordsDelay)
	}
	return nil
}

// kickWords schedules a flush of the due words after d; callers hold mu.
func (ix *Index) kickWords(d time.Duration) {
	if ix.wordsTimer != nil {
		ix.wordsTimer.Stop()
	}
	ix.wordsTimer = time.AfterFunc(d, func() {
		ix.mu.Lock()
		defer ix.mu.Unlock()
		if !ix.closed {
			ix.flushWordsLocked()
		}
	})
}

// flushWordsLocked writes the words of every noted post into bWords and
// removes the notes, in one transaction; callers hold mu. A failure is
// logged and the notes stay for the next flush.
func (ix *Index) flushWordsLocked() {
	if len(ix.wordsDue) == 0 {
		return
	}
	due := ix.wordsDue
	err := ix.db.Update(func(tx *bolt.Tx) error {
		posts, notes := tx.Bucket(bPosts), tx.Bucket(bWordsDue)
		for _, key := range due {
			if v := posts.Get(key); v != nil {
				e, err := decodeStored(0, v)
				if err != nil {
					ix.log.Warn("timeline: stored post does not decode; its words are not indexed", "err", err)
				} else if err := ix.indexWordsTx(tx, e.post()); err != nil {
					return err
				}
			}
			if err := notes.Delete(key); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		ix.log.Warn("timeline: indexing words", "posts", len(due), "err", err)
		return
	}
	ix.wordsDue = ix.wordsDue[len(due):]
	if len(ix.wordsDue) == 0 {
		ix.wordsDue = nil
	}
}
