# tests/replication.sh: what the replication tests share.  Source it
# after tests/lib.sh (it uses spawn).
#
#   replicate SITE
#	Starts the site's replication process (mscart replicate -d SITE);
#	its lines go to group.err, where every line names its site.  Sets
#	PID_SITE.
#   until_acked N CMD...
#	Runs CMD (stdin: the file in $IN) until its replies acknowledge N
#	lines (applied or duplicate), as a robot sends again after a
#	"retry" (a busy machine may miss the 2 s ack timeout); at most 21
#	attempts, 0.5 s apart (the robot's backoff).  The replies of every
#	attempt are added to the file $REPLIES when it is set; the last
#	attempt's are in ./attempt.
replicate() {
	spawn /dev/null "$1.out" group.err mscart replicate -d "$1"
	eval "PID_$1=\$BG_PID"
}
until_acked() {
	_n=$1 _i=0
	shift
	while :; do
		"$@" <"$IN" >attempt 2>attempt.err
		[ -z "${REPLIES:-}" ] || cat attempt >>"$REPLIES"
		[ "$(grep -Ec '"status":"(applied|duplicate)"' attempt)" = "$_n" ] && return 0
		[ $_i -lt 20 ] || return 1
		sleep 0.5
		_i=$((_i + 1))
	done
}
