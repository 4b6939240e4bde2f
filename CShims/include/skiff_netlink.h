// SPDX-License-Identifier: Apache-2.0
/*
 * The kernel's netlink, rtnetlink and nf_tables definitions, for SkiffNetwork (Swift
 * imports their enums; the few macros it cannot import are restated below), and the one
 * thing about network namespaces that must be C.
 */
#ifndef SKIFF_NETLINK_H
#define SKIFF_NETLINK_H

#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/if_link.h>
#include <linux/if_addr.h>
#include <linux/veth.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nf_tables.h>
#include <stdint.h>

/* A socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, protocol) that belongs to the network
 * namespace `netns_fd`: the calling thread enters that namespace, opens the socket and
 * returns to its own (a socket keeps the namespace it was made in). Returns -1 with errno
 * if any step fails; if the way back fails the process aborts rather than run on in the
 * wrong namespace. */
int skiff_netlink_socket_in(int netns_fd, int protocol);

/* The cookie of the network namespace `netns_fd` (-1: the calling thread's), which the
 * kernel never reuses while it runs (SO_NETNS_COOKIE). 0 with errno on failure. */
uint64_t skiff_netns_cookie(int netns_fd);

/* Sends the netlink `request` (`length` bytes) on `sock` from a detached grandchild of the
 * caller (its own session, every descriptor closed but `sock`, `report`, `release` and the
 * `hold_count` ones in `hold`), which waits for the kernel's acknowledgement and writes its
 * errno (0: done) to `report` as one int; nobody waits for it. For requests whose syscall goes
 * on long after their effect is visible (a link's deletion is unlisted at once, then waits for
 * an RCU barrier): the caller watches for the effect and returns. The grandchild then reads
 * `release` to its end (the caller closes its write end once it has closed its own copies of
 * the `hold` descriptors) and exits, so that it closes those last, with whatever waits their
 * last close costs. With `request` NULL, holding is all it does. Returns 0 once the grandchild
 * exists, or -1 with errno. */
enum { SKIFF_DETACHED_HOLD_MAX = 4 };
int skiff_netlink_request_detached(int sock, const void *request, size_t length, int report, int release,
                                   const int *hold, int hold_count);

enum {
    SKIFF_NLM_F_REQUEST = NLM_F_REQUEST,
    SKIFF_NLM_F_ACK = NLM_F_ACK,
    SKIFF_NLM_F_CREATE = NLM_F_CREATE,
    SKIFF_NLM_F_EXCL = NLM_F_EXCL,
    SKIFF_NLM_F_APPEND = NLM_F_APPEND,
    SKIFF_NLM_F_NONREC = 0x100,
    SKIFF_NLM_F_DUMP = NLM_F_DUMP,
    SKIFF_NLA_F_NESTED = NLA_F_NESTED,
    SKIFF_NLMSG_ERROR = NLMSG_ERROR,
    SKIFF_NLMSG_DONE = NLMSG_DONE,
    SKIFF_NFNL_SUBSYS_NFTABLES = NFNL_SUBSYS_NFTABLES,
    SKIFF_NFNL_MSG_BATCH_BEGIN = NFNL_MSG_BATCH_BEGIN,
    SKIFF_NFNL_MSG_BATCH_END = NFNL_MSG_BATCH_END,
    SKIFF_NETLINK_EXT_ACK = 11,
    SKIFF_NETLINK_CAP_ACK = 10,
    SKIFF_NLMSGERR_ATTR_MSG = 1,
    /* From <linux/netfilter.h>, which is not included: its <linux/in.h> clashes with
     * glibc's <netinet/in.h> in any Swift module that imports both. */
    SKIFF_NF_DROP = 0,
    SKIFF_NF_ACCEPT = 1,
};

#endif
