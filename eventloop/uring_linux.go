//go:build linux

package eventloop

import (
	"errors"
	"fmt"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"
)

// The io_uring interface, through its raw system calls, as the epoll
// engine uses epoll: no cgo, no library. A ring is used by one goroutine
// at a time.

// System call numbers; the same on every Linux architecture.
const (
	sysIOUringSetup    = 425
	sysIOUringEnter    = 426
	sysIOUringRegister = 427
)

// Operations and flags used here (include/uapi/linux/io_uring.h).
const (
	setupCoopTaskrun = 1 << 8 // IORING_SETUP_COOP_TASKRUN (5.19)

	opNop         = 0
	opPollAdd     = 6
	opAccept      = 13
	opAsyncCancel = 14
	opSend        = 26
	opRecv        = 27

	sqeBufferSelect = 1 << 5 // IOSQE_BUFFER_SELECT

	recvMultishot = 1 << 1 // IORING_RECV_MULTISHOT, in ioprio
	cancelFD      = 1 << 1 // IORING_ASYNC_CANCEL_FD
	cancelAll     = 1 << 0 // IORING_ASYNC_CANCEL_ALL

	cqeFBuffer  = 1 << 0 // IORING_CQE_F_BUFFER
	cqeFMore    = 1 << 1 // IORING_CQE_F_MORE
	cqeBufShift = 16

	enterGetEvents = 1 << 0 // IORING_ENTER_GETEVENTS
	enterExtArg    = 1 << 3 // IORING_ENTER_EXT_ARG

	featSingleMmap = 1 << 0
	featNoDrop     = 1 << 1
	featExtArg     = 1 << 8

	offSQRing = 0
	offSQEs   = 0x10000000

	registerPbufRing = 22
)

type sqringOffsets struct {
	head, tail, ringMask, ringEntries, flags, dropped, array, resv1 uint32
	userAddr                                                        uint64
}

type cqringOffsets struct {
	head, tail, ringMask, ringEntries, overflow, cqes, flags, resv1 uint32
	userAddr                                                        uint64
}

type uringParams struct {
	sqEntries, cqEntries, flags, sqThreadCPU, sqThreadIdle, features, wqFD uint32
	resv                                                                   [3]uint32
	sqOff                                                                  sqringOffsets
	cqOff                                                                  cqringOffsets
}

// sqe is a submission queue entry, 64 bytes.
type sqe struct {
	opcode      uint8
	flags       uint8
	ioprio      uint16
	fd          int32
	off         uint64
	addr        uint64
	len         uint32
	opFlags     uint32
	userData    uint64
	bufIndex    uint16 // buf_group with sqeBufferSelect
	personality uint16
	spliceFDIn  int32
	addr3       uint64
	pad         uint64
}

// cqe is a completion queue entry, 16 bytes.
type cqe struct {
	userData uint64
	res      int32
	flags    uint32
}

// getEventsArg is io_uring_getevents_arg, for a wait with a timeout.
type getEventsArg struct {
	sigmask   uint64
	sigmaskSz uint32
	pad       uint32
	ts        uint64
}

// ring is an io_uring instance with its queues mapped.
type ring struct {
	fd      int
	ringMem []byte // both rings: every kernel this needs maps them together
	sqeMem  []byte

	sqHead, sqTail *uint32
	sqMask         uint32
	sqEntries      uint32
	sqArray        []uint32
	sqes           []sqe
	tail           uint32 // our copy of the tail, published by submit
	pending        uint32 // entries prepared and not yet taken by the kernel

	cqHead, cqTail *uint32
	cqMask         uint32
	cqes           []cqe
}

// errNoUring is returned where io_uring is missing, disabled or refused.
var errNoUring = errors.New("eventloop: io_uring is not available")

// newRing sets up a ring with room for entries submissions.
func newRing(entries uint32) (*ring, error) {
	// Completion work waits for the submitting thread's next system call
	// instead of interrupting it; kernels before 5.19 refuse the flag.
	p := uringParams{flags: setupCoopTaskrun}
	fd, _, errno := syscall.Syscall(sysIOUringSetup, uintptr(entries), uintptr(unsafe.Pointer(&p)), 0)
	if errno == syscall.EINVAL {
		p = uringParams{}
		fd, _, errno = syscall.Syscall(sysIOUringSetup, uintptr(entries), uintptr(unsafe.Pointer(&p)), 0)
	}
	if errno != 0 {
		return nil, fmt.Errorf("%w: io_uring_setup: %v", errNoUring, errno)
	}
	r := &ring{fd: int(fd)}
	need := uint32(featSingleMmap | featNoDrop | featExtArg)
	if p.features&need != need {
		r.close()
		return nil, fmt.Errorf("%w: the kernel's io_uring lacks features (have %#x)", errNoUring, p.features)
	}
	size := max(p.sqOff.array+p.sqEntries*4, p.cqOff.cqes+p.cqEntries*uint32(unsafe.Sizeof(cqe{})))
	var err error
	r.ringMem, err = syscall.Mmap(r.fd, offSQRing, int(size), syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_SHARED|syscall.MAP_POPULATE)
	if err != nil {
		r.close()
		return nil, fmt.Errorf("eventloop: mmap of the io_uring rings: %w", err)
	}
	r.sqeMem, err = syscall.Mmap(r.fd, offSQEs, int(p.sqEntries)*int(unsafe.Sizeof(sqe{})), syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_SHARED|syscall.MAP_POPULATE)
	if err != nil {
		r.close()
		return nil, fmt.Errorf("eventloop: mmap of the io_uring entries: %w", err)
	}
	m := r.ringMem
	r.sqHead = (*uint32)(unsafe.Pointer(&m[p.sqOff.head]))
	r.sqTail = (*uint32)(unsafe.Pointer(&m[p.sqOff.tail]))
	r.sqMask = *(*uint32)(unsafe.Pointer(&m[p.sqOff.ringMask]))
	r.sqEntries = p.sqEntries
	r.sqArray = unsafe.Slice((*uint32)(unsafe.Pointer(&m[p.sqOff.array])), p.sqEntries)
	r.sqes = unsafe.Slice((*sqe)(unsafe.Pointer(&r.sqeMem[0])), p.sqEntries)
	r.tail = atomic.LoadUint32(r.sqTail)
	r.cqHead = (*uint32)(unsafe.Pointer(&m[p.cqOff.head]))
	r.cqTail = (*uint32)(unsafe.Pointer(&m[p.cqOff.tail]))
	r.cqMask = *(*uint32)(unsafe.Pointer(&m[p.cqOff.ringMask]))
	r.cqes = unsafe.Slice((*cqe)(unsafe.Pointer(&m[p.cqOff.cqes])), p.cqEntries)
	return r, nil
}

func (r *ring) close() {
	if r.sqeMem != nil {
		syscall.Munmap(r.sqeMem)
		r.sqeMem = nil
	}
	if r.ringMem != nil {
		syscall.Munmap(r.ringMem)
		r.ringMem = nil
	}
	if r.fd >= 0 {
		syscall.Close(r.fd)
		r.fd = -1
	}
}

// next returns a cleared submission entry, submitting what is prepared if
// the queue is full.
func (r *ring) next() (*sqe, error) {
	if r.tail-atomic.LoadUint32(r.sqHead) >= r.sqEntries {
		if _, err := r.enter(r.pending, 0, nil); err != nil {
			return nil, err
		}
		if r.tail-atomic.LoadUint32(r.sqHead) >= r.sqEntries {
			return nil, syscall.EBUSY
		}
	}
	i := r.tail & r.sqMask
	s := &r.sqes[i]
	*s = sqe{}
	r.sqArray[i] = i
	r.tail++
	r.pending++
	return s, nil
}

// submit hands the prepared entries to the kernel in one system call and
// waits for at least wait completions, at most d if d > 0.
func (r *ring) submit(wait uint32, d time.Duration) error {
	var arg *getEventsArg
	var ts syscall.Timespec
	if wait > 0 && d > 0 {
		ts = syscall.NsecToTimespec(int64(d))
		arg = &getEventsArg{ts: uint64(uintptr(unsafe.Pointer(&ts)))}
	}
	_, err := r.enter(r.pending, wait, arg)
	if err == syscall.ETIME {
		return nil
	}
	return err
}

// enter publishes the prepared entries, submits up to submit of them and
// waits for wait completions.
func (r *ring) enter(submit, wait uint32, arg *getEventsArg) (int, error) {
	r.publish()
	n, err := r.enterRaw(submit, wait, arg)
	r.pending -= min(r.pending, uint32(n))
	return n, err
}

// publish makes the prepared entries visible to the kernel.
func (r *ring) publish() { atomic.StoreUint32(r.sqTail, r.tail) }

// enterRaw is the system call alone: it reads no field that next changes.
func (r *ring) enterRaw(submit, wait uint32, arg *getEventsArg) (int, error) {
	flags := uintptr(0)
	if wait > 0 {
		flags |= enterGetEvents
	}
	argSz := uintptr(0)
	if arg != nil {
		flags |= enterExtArg
		argSz = unsafe.Sizeof(*arg)
	}
	for {
		n, _, errno := syscall.Syscall6(sysIOUringEnter, uintptr(r.fd), uintptr(submit), uintptr(wait), flags, uintptr(unsafe.Pointer(arg)), argSz)
		if errno == syscall.EINTR {
			continue
		}
		if errno != 0 {
			return int(n), errno
		}
		return int(n), nil
	}
}

// reap calls f with each completion at hand and returns how many there were.
func (r *ring) reap(f func(*cqe)) int {
	head := atomic.LoadUint32(r.cqHead)
	tail := atomic.LoadUint32(r.cqTail)
	for i := head; i != tail; i++ {
		f(&r.cqes[i&r.cqMask])
	}
	atomic.StoreUint32(r.cqHead, tail)
	return int(tail - head)
}

// prepAcceptOne prepares one accept of a non-blocking socket on lfd,
// which writes the peer's address to sa and its length to n: both must
// stay as they are, and referenced, until it completes.
func (r *ring) prepAcceptOne(lfd int, sa *syscall.RawSockaddrAny, n *uint32, userData uint64) error {
	s, err := r.next()
	if err != nil {
		return err
	}
	*n = syscall.SizeofSockaddrAny
	s.opcode, s.fd, s.userData = opAccept, int32(lfd), userData
	s.addr, s.off = uint64(uintptr(unsafe.Pointer(sa))), uint64(uintptr(unsafe.Pointer(n)))
	s.opFlags = syscall.SOCK_NONBLOCK | syscall.SOCK_CLOEXEC
	return nil
}

// prepRecv prepares a receive on fd into a buffer of group, the kernel's
// choice once bytes arrive; multishot, it goes on receiving.
func (r *ring) prepRecv(fd int, group uint16, multishot bool, userData uint64) error {
	s, err := r.next()
	if err != nil {
		return err
	}
	s.opcode, s.fd, s.userData = opRecv, int32(fd), userData
	if multishot {
		s.ioprio = recvMultishot
	}
	s.flags, s.bufIndex = sqeBufferSelect, group
	return nil
}

// prepSend prepares a send of b on fd. b must stay as it is, and
// referenced, until the send completes.
func (r *ring) prepSend(fd int, b []byte, userData uint64) error {
	s, err := r.next()
	if err != nil {
		return err
	}
	s.opcode, s.fd, s.userData = opSend, int32(fd), userData
	s.addr, s.len, s.opFlags = uint64(uintptr(unsafe.Pointer(unsafe.SliceData(b)))), uint32(len(b)), syscall.MSG_NOSIGNAL
	return nil
}

// prepCancelFD prepares the cancellation of every request on fd: closing
// a socket does not end them, as each holds the file.
func (r *ring) prepCancelFD(fd int, userData uint64) error {
	s, err := r.next()
	if err != nil {
		return err
	}
	s.opcode, s.fd, s.opFlags, s.userData = opAsyncCancel, int32(fd), cancelFD|cancelAll, userData
	return nil
}

// bufRing is a ring of provided buffers: the kernel takes one when bytes
// arrive for a receive that selects from its group, so that a connection
// waiting for bytes holds no buffer.
type bufRing struct {
	mem   []byte // the ring: entries of 16 bytes, the tail in the first
	bufs  []byte // the buffers, size bytes each
	size  int
	mask  uint16
	tail  uint16
	group uint16
}

type bufRingReg struct {
	ringAddr    uint64
	ringEntries uint32
	bgid        uint16
	flags       uint16
	resv        [3]uint64
}

// newBufRing registers n buffers of size bytes as group; n is a power of 2.
func (r *ring) newBufRing(group uint16, n, size int) (*bufRing, error) {
	b := &bufRing{size: size, mask: uint16(n - 1), group: group}
	var err error
	if b.mem, err = syscall.Mmap(-1, 0, n*16, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANONYMOUS|syscall.MAP_PRIVATE); err != nil {
		return nil, fmt.Errorf("eventloop: mmap of a buffer ring: %w", err)
	}
	if b.bufs, err = syscall.Mmap(-1, 0, n*size, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANONYMOUS|syscall.MAP_PRIVATE); err != nil {
		syscall.Munmap(b.mem)
		return nil, fmt.Errorf("eventloop: mmap of buffers: %w", err)
	}
	reg := bufRingReg{ringAddr: uint64(uintptr(unsafe.Pointer(&b.mem[0]))), ringEntries: uint32(n), bgid: group}
	if _, _, errno := syscall.Syscall6(sysIOUringRegister, uintptr(r.fd), registerPbufRing, uintptr(unsafe.Pointer(&reg)), 1, 0, 0); errno != 0 {
		b.free()
		return nil, fmt.Errorf("%w: registering a buffer ring: %v", errNoUring, errno)
	}
	for i := range n {
		b.put(uint16(i))
	}
	return b, nil
}

// buf returns buffer id's first n bytes.
func (b *bufRing) buf(id uint16, n int) []byte {
	off := int(id) * b.size
	return b.bufs[off : off+n : off+b.size]
}

// put gives buffer id back to the kernel.
func (b *bufRing) put(id uint16) {
	e := b.mem[int(b.tail&b.mask)*16:]
	*(*uint64)(unsafe.Pointer(&e[0])) = uint64(uintptr(unsafe.Pointer(&b.bufs[int(id)*b.size])))
	*(*uint32)(unsafe.Pointer(&e[8])) = uint32(b.size)
	*(*uint16)(unsafe.Pointer(&e[12])) = id
	b.tail++
	atomic.StoreUint32((*uint32)(unsafe.Pointer(&b.mem[12])), uint32(b.tail)<<16|uint32(*(*uint16)(unsafe.Pointer(&b.mem[12]))))
}

func (b *bufRing) free() {
	syscall.Munmap(b.mem)
	syscall.Munmap(b.bufs)
}
