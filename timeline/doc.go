// Package timeline is a node's local index of the posts it holds — its
// own users' posts and every post received through the swarms it follows —
// kept in a bbolt file, and the queries twisterd's RPC answers from that
// local state: getposts (home timelines with twisterd's per-user
// max_id/since_id/flags selection and time merge), getdirectmsgs (direct and
// group messages decrypted with the local users' and groups' keys and
// stored per conversation as processReceivedDM does), getmentions, getfavs
// (with private favourites decrypted), gettrendinghashtags (hashtag scores
// decaying with an 8-hour half-life), getspamposts and the promoted post
// getposts prepends, getlasthave, getnumpieces and search, plus a local
// word index over held posts (search by word, "words stored like
// hashtags"). Every method that produces RPC output returns values ready
// for encoding/json whose encoding is twisterd's: integers as integers,
// posts through post.PostToJSON, objects with twisterd's key order.
//
// The node decides what to hold: it validates each post (post.Validate)
// before calling AddPost, and supplies the local keys, the follow lists and
// the group-chat membership through a KeyRing. Everything the index derives
// (DM conversations, mentions, hashtag scores, the word index) is kept in
// the same file and survives a restart.
package timeline
