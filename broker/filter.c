/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Build and load the seccomp filter: the policy's register-only decisions are returned by the
 * kernel itself (issue 8), every other call of the recvmmsg family goes to the broker. The BPF is
 * hand-assembled from the decision tree of mmsg_policy_compile() by a small emitter: it compares
 * 32-bit halves only, which keeps clear of libseccomp 2.5.4's 64-bit comparison merge bug, and it
 * is loaded with a raw seccomp() because libseccomp 2.5.4 cannot request
 * SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV. tests/integration checks every route live. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/audit.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "filter.h"
#include "internal/macros.h"
#include "kernel.h"

#ifndef SECCOMP_RET_USER_NOTIF /* Linux 5.0 */
#define SECCOMP_RET_USER_NOTIF 0x7fc00000u
#endif
#ifndef SECCOMP_RET_KILL_PROCESS /* Linux 4.14 */
#define SECCOMP_RET_KILL_PROCESS 0x80000000u
#endif

/* struct seccomp_data offsets; x86 is little-endian, so an argument's low half comes first. */
#define OFF_NR offsetof(struct seccomp_data, nr)
#define OFF_ARCH offsetof(struct seccomp_data, arch)
#define OFF_ARG_LO(i) (offsetof(struct seccomp_data, args) + sizeof(uint64_t) * (size_t)(i))
#define OFF_ARG_HI(i) (OFF_ARG_LO(i) + 4)

/* Conditional BPF jumps reach 255 instructions ahead. A program longer than that uses the long
 * form everywhere: a conditional over two unconditional (32-bit offset) jumps. */
#define SHORT_JUMP_SPAN 256

enum label {
    L_ALLOW,
    L_NOTIFY,
    L_X32,
    L_I386,
    L_SOCKETCALL,
    L_BAD_ARCH,
    L_NEXT, /* the instruction after the current jump */
    L_MAX_,
};

struct emitter {
    const struct mmsg_kprog *prog; /* NULL: every route notifies */
    bool long_jumps;
    bool final;      /* second pass: positions are known */
    bool notify_all; /* assembled without a tree: every call of the family is notified */
    bool bad_jump;   /* a jump that does not go forward within reach: refuse the program */
    size_t n;        /* instructions emitted so far (counted even past the array) */
    uint32_t label[L_MAX_];
    uint32_t *node_pc; /* per tree node */
    uint64_t *uniform; /* per tree node: (1 << 32) | action when every leaf under it returns
                        * that action, else 0 */
    struct sock_filter insn[BPF_MAXINSNS];
    char (*note)[72]; /* optional: a comment per instruction, for filter_print() */
};

static void emit(struct emitter *e, uint16_t code, uint32_t k, uint8_t jt, uint8_t jf,
                 const char *note)
{
    if (e->final && e->n < BPF_MAXINSNS) {
        e->insn[e->n] = (struct sock_filter){.code = code, .jt = jt, .jf = jf, .k = k};
        if (e->note)
            (void)snprintf(e->note[e->n], sizeof(e->note[0]), "%s", note ? note : "");
    }
    e->n++;
}

/* Target positions: a label, or a tree node when @node >= 0. */
struct target {
    int label; /* enum label, or -1 */
    int64_t node;
};

#define TO(l) ((struct target){.label = (l), .node = -1})
#define TO_NODE(i) ((struct target){.label = -1, .node = (i)})

static uint32_t pc_of(struct emitter *e, struct target t, uint32_t next, uint32_t reach)
{
    uint32_t pc;

    if (t.label == L_NEXT)
        pc = next;
    else if (t.label >= 0)
        pc = e->label[t.label];
    else
        pc = e->node_pc[t.node];
    /* BPF only jumps forward; the layout guarantees it, this check proves it. */
    if (pc < next || pc - next > reach)
        e->bad_jump = true;
    return pc;
}

static void emit_ja(struct emitter *e, struct target t, const char *note)
{
    uint32_t here = (uint32_t)e->n;

    emit(e, BPF_JMP | BPF_JA, e->final ? pc_of(e, t, here + 1, BPF_MAXINSNS) - (here + 1) : 0, 0, 0,
         note);
}

/* if (A <op> k) goto t else goto f. */
static void emit_jump(struct emitter *e, uint16_t op, uint32_t k, struct target t, struct target f,
                      const char *note)
{
    uint32_t here = (uint32_t)e->n;

    if (!e->long_jumps) {
        uint32_t next = here + 1, jt = 0, jf = 0;

        if (e->final) {
            jt = pc_of(e, t, next, UINT8_MAX) - next;
            jf = pc_of(e, f, next, UINT8_MAX) - next;
        }
        emit(e, BPF_JMP | op | BPF_K, k, (uint8_t)jt, (uint8_t)jf, note);
        return;
    }
    /* Long form: the conditional picks one of the two JAs that follow. */
    emit(e, BPF_JMP | op | BPF_K, k, 0, 1, note);
    {
        uint32_t next = here + 3;

        emit(e, BPF_JMP | BPF_JA, e->final ? pc_of(e, t, next, BPF_MAXINSNS) - (here + 2) : 0, 0, 0,
             NULL);
        emit(e, BPF_JMP | BPF_JA, e->final ? pc_of(e, f, next, BPF_MAXINSNS) - (here + 3) : 0, 0, 0,
             NULL);
    }
}

static void emit_load(struct emitter *e, uint32_t off, const char *note)
{
    emit(e, BPF_LD | BPF_W | BPF_ABS, off, 0, 0, note);
}

static void emit_ret(struct emitter *e, uint32_t action, const char *note)
{
    emit(e, BPF_RET | BPF_K, action, 0, 0, note);
}

static uint32_t leaf_action(const struct mmsg_knode *n)
{
    switch (n->verdict) {
    case MMSG_KVERDICT_ALLOW:
        return SECCOMP_RET_ALLOW;
    case MMSG_KVERDICT_ERRNO:
        return SECCOMP_RET_ERRNO | ((uint32_t)n->errno_value & SECCOMP_RET_DATA);
    case MMSG_KVERDICT_KILL:
        return SECCOMP_RET_KILL_PROCESS;
    case MMSG_KVERDICT_NOTIFY:
    case MMSG_KVERDICT_MAX_:
    default:
        return SECCOMP_RET_USER_NOTIF; /* the broker decides: the safe answer */
    }
}

/* One tree node of route @sys. Arguments the kernel declares int or unsigned int (fd, vlen,
 * flags: net/socket.c SYSCALL_DEFINE5(recvmmsg, int, fd, ..., unsigned int, vlen, unsigned int,
 * flags, ...)) are truncated to their low 32 bits by the syscall wrappers, so only that half is
 * compared; the timeout pointer is NULL only when all 64 bits are zero on x86_64. i386 arguments
 * are 32-bit: only the low half exists. */
static void emit_node(struct emitter *e, const struct mmsg_knode *n, bool compat)
{
    char note[72];
    struct target t = TO_NODE(n->on_true), f = TO_NODE(n->on_false);

    switch (n->test) {
    case MMSG_KTEST_LEAF:
        if (n->verdict == MMSG_KVERDICT_ERRNO)
            (void)snprintf(note, sizeof(note), "%s %s (%s)", mmsg_kverdict_name(n->verdict),
                           mmsg_errno_name(n->errno_value) ? mmsg_errno_name(n->errno_value) : "?",
                           n->rule_index >= 0 ? "rule" : "default");
        else
            (void)snprintf(note, sizeof(note), "%s (%s)", mmsg_kverdict_name(n->verdict),
                           mmsg_kwhy_name(n->why));
        emit_ret(e, leaf_action(n), note);
        return;
    case MMSG_KTEST_FD:
        /* Signed order becomes unsigned order once the sign bit is flipped. */
        (void)snprintf(note, sizeof(note), "fd in [%" PRId64 ", %" PRId64 "]", n->lo, n->hi);
        emit_load(e, OFF_ARG_LO(0), "fd (low 32 bits)");
        emit(e, BPF_ALU | BPF_XOR | BPF_K, 0x80000000u, 0, 0, "flip the sign bit");
        if (n->lo != INT32_MIN)
            emit_jump(e, BPF_JGE, (uint32_t)n->lo ^ 0x80000000u, TO(L_NEXT), f, note);
        emit_jump(e, BPF_JGT, (uint32_t)n->hi ^ 0x80000000u, f, t, note);
        return;
    case MMSG_KTEST_VLEN:
        (void)snprintf(note, sizeof(note), "vlen in [%" PRId64 ", %" PRId64 "]", n->lo, n->hi);
        emit_load(e, OFF_ARG_LO(2), "vlen");
        if (n->lo != 0)
            emit_jump(e, BPF_JGE, (uint32_t)n->lo, TO(L_NEXT), f, note);
        if (n->hi != UINT32_MAX)
            emit_jump(e, BPF_JGT, (uint32_t)n->hi, f, t, note);
        else
            emit_ja(e, t, note);
        return;
    case MMSG_KTEST_FLAGS_ANY:
    case MMSG_KTEST_FLAGS_ALL:
    case MMSG_KTEST_FLAGS_NONE: {
        char names[48];

        /* On the i386 routes the compiler has already left MSG_CMSG_COMPAT out of every mask. */
        (void)mmsg_msg_flags_format(n->mask, names, sizeof(names));
        emit_load(e, OFF_ARG_LO(3), "flags");
        if (n->test == MMSG_KTEST_FLAGS_ANY) {
            (void)snprintf(note, sizeof(note), "flags any %s", names);
            emit_jump(e, BPF_JSET, n->mask, t, f, note);
        } else if (n->test == MMSG_KTEST_FLAGS_NONE) {
            (void)snprintf(note, sizeof(note), "flags none %s", names);
            emit_jump(e, BPF_JSET, n->mask, f, t, note);
        } else {
            (void)snprintf(note, sizeof(note), "flags all %s", names);
            emit(e, BPF_ALU | BPF_AND | BPF_K, n->mask, 0, 0, NULL);
            emit_jump(e, BPF_JEQ, n->mask, t, f, note);
        }
        return;
    }
    case MMSG_KTEST_TIMEOUT_NULL:
        emit_load(e, OFF_ARG_LO(4), "timeout pointer (low 32 bits)");
        if (compat) {
            emit_jump(e, BPF_JEQ, 0, t, f, "timeout NULL");
            return;
        }
        emit_jump(e, BPF_JEQ, 0, TO(L_NEXT), f, "low half 0");
        emit_load(e, OFF_ARG_HI(4), "timeout pointer (high 32 bits)");
        emit_jump(e, BPF_JEQ, 0, t, f, "timeout NULL");
        return;
    case MMSG_KTEST_MAX_:
    default:
        emit_ret(e, SECCOMP_RET_USER_NOTIF, "unknown test: the broker decides");
        return;
    }
}

/* Every leaf under node @i returns the same action: compute that for every node, bottom-up
 * (edges only go forward). Such a subtree is emitted as one RET, so policies that decide alike
 * compile to the same program: the reload check compares programs. */
static void compute_uniform(struct emitter *e)
{
    const struct mmsg_kprog *p = e->prog;

    for (size_t k = p->n_nodes; k-- > 0;) {
        const struct mmsg_knode *n = &p->nodes[k];

        if (n->test == MMSG_KTEST_LEAF)
            e->uniform[k] = (UINT64_C(1) << 32) | leaf_action(n);
        else if (e->uniform[n->on_true] && e->uniform[n->on_true] == e->uniform[n->on_false])
            e->uniform[k] = e->uniform[n->on_true];
        else
            e->uniform[k] = 0;
    }
}

/* Where the dispatch jumps for route @sys. */
static struct target route_target(const struct emitter *e, enum mmsg_syscall sys)
{
    uint32_t root;

    if (!e->prog || sys == MMSG_SYS_SOCKETCALL)
        return TO(L_NOTIFY);
    root = e->prog->root[sys];
    if (e->uniform[root] == ((UINT64_C(1) << 32) | SECCOMP_RET_USER_NOTIF))
        return TO(L_NOTIFY);
    if (e->uniform[root] == ((UINT64_C(1) << 32) | SECCOMP_RET_ALLOW))
        return TO(L_ALLOW);
    return TO_NODE(root);
}

/* One pass over the whole program; positions are recorded in the first pass (final false)
 * and used in the second. */
static void emit_program(struct emitter *e)
{
    const struct mmsg_kprog *p = e->prog;

    e->n = 0;
    emit_load(e, OFF_ARCH, "arch");
    emit_jump(e, BPF_JEQ, AUDIT_ARCH_X86_64, TO(L_NEXT), TO(L_I386), "x86_64 (or x32)?");
    emit_load(e, OFF_NR, "nr");
    emit_jump(e, BPF_JGE, X32_SYSCALL_BIT_, TO(L_X32), TO(L_NEXT), "x32 bit set?");
    emit_jump(e, BPF_JEQ, NR_X86_64_RECVMMSG, route_target(e, MMSG_SYS_RECVMMSG), TO(L_ALLOW),
              "recvmmsg");

    if (!e->final)
        e->label[L_X32] = (uint32_t)e->n;
    /* x32's recvmmsg shares AUDIT_ARCH_X86_64: an unseen route unless notified; the broker
     * refuses it with ENOSYS (and audits it). */
    emit_jump(e, BPF_JEQ, NR_X32_RECVMMSG, TO(L_NOTIFY), TO(L_ALLOW), "x32 recvmmsg");

    if (!e->final)
        e->label[L_I386] = (uint32_t)e->n;
    emit_jump(e, BPF_JEQ, AUDIT_ARCH_I386, TO(L_NEXT), TO(L_BAD_ARCH), "i386?");
    emit_load(e, OFF_NR, "nr");
    emit_jump(e, BPF_JEQ, NR_I386_RECVMMSG_TIME32, route_target(e, MMSG_SYS_RECVMMSG_TIME32),
              TO(L_NEXT), "recvmmsg_time32");
    emit_jump(e, BPF_JEQ, NR_I386_RECVMMSG_TIME64, route_target(e, MMSG_SYS_RECVMMSG_TIME64),
              TO(L_NEXT), "recvmmsg_time64");
    emit_jump(e, BPF_JEQ, NR_I386_SOCKETCALL, TO(L_SOCKETCALL), TO(L_ALLOW), "socketcall");

    if (!e->final)
        e->label[L_SOCKETCALL] = (uint32_t)e->n;
    emit_load(e, OFF_ARG_LO(0), "socketcall call");
    /* The arguments are in caller memory, out of BPF's reach: always the broker. */
    emit_jump(e, BPF_JEQ, SOCKETCALL_SYS_RECVMMSG, TO(L_NOTIFY), TO(L_ALLOW), "SYS_RECVMMSG");

    if (!e->final)
        e->label[L_BAD_ARCH] = (uint32_t)e->n;
    emit_ret(e, SECCOMP_RET_KILL_PROCESS, "kill: an architecture we do not filter");
    if (!e->final)
        e->label[L_ALLOW] = (uint32_t)e->n;
    emit_ret(e, SECCOMP_RET_ALLOW, "allow: not the recvmmsg family");
    if (!e->final)
        e->label[L_NOTIFY] = (uint32_t)e->n;
    emit_ret(e, SECCOMP_RET_USER_NOTIF, "notify");

    if (!p)
        return;
    for (int sys = 0; sys < MMSG_SYS_MAX_; sys++) {
        size_t end = sys + 1 < MMSG_SYS_MAX_ ? p->root[sys + 1] : p->n_nodes;

        /* socketcall's arguments are in caller memory, and a route whose every call ends
         * alike needs no test: the dispatch jumps to L_NOTIFY or L_ALLOW, or to the root
         * alone, emitted as one RET. */
        if (route_target(e, (enum mmsg_syscall)sys).label >= 0)
            continue;
        for (size_t i = p->root[sys]; i < end; i++) {
            if (!e->final)
                e->node_pc[i] = (uint32_t)e->n;
            if (e->uniform[i] && p->nodes[i].test != MMSG_KTEST_LEAF)
                emit_ret(e, (uint32_t)e->uniform[i], "every path from here ends alike");
            else
                emit_node(e, &p->nodes[i], sys != MMSG_SYS_RECVMMSG);
            if (i == p->root[sys] && e->uniform[i])
                break; /* nothing under a uniform root is reachable */
        }
    }
}

/* Lay out and emit @e->prog; on return e->n is the length (may exceed BPF_MAXINSNS). */
static void assemble(struct emitter *e)
{
    e->long_jumps = false;
    for (;;) {
        e->final = false;
        emit_program(e);
        if (e->n <= SHORT_JUMP_SPAN || e->long_jumps)
            break;
        e->long_jumps = true;
    }
    if (e->n <= BPF_MAXINSNS) {
        e->final = true;
        emit_program(e);
    }
}

static void emitter_freep(struct emitter **e)
{
    if (!*e)
        return;
    free((*e)->node_pc);
    free((*e)->uniform);
    free((*e)->note);
    free(*e);
}

static void kprog_freep(struct mmsg_kprog **p)
{
    (void)mmsg_kprog_free(*p); /* always NULL */
}

/* Compile @policy and assemble it into @ret_e (with notes when @notes). A tree too large for
 * one BPF program falls back to notifying every route: the broker still decides each call. */
static int build(const struct mmsg_policy *policy, bool audit_all, bool notes,
                 struct emitter **ret_e)
{
    cleanup_(emitter_freep) struct emitter *e = NULL;
    cleanup_(kprog_freep) struct mmsg_kprog *prog = NULL;
    cleanup_free char(*note)[72] = NULL;
    cleanup_free uint32_t *node_pc = NULL;
    cleanup_free uint64_t *uniform = NULL;
    int r;

    if (notes) {
        note = calloc(BPF_MAXINSNS, sizeof(*note));
        if (!note)
            return -ENOMEM;
    }
    if (policy) {
        r = mmsg_policy_compile(policy, audit_all ? MMSG_COMPILE_AUDIT_ALL : 0, &prog);
        if (r < 0)
            return r;
        node_pc = calloc(prog->n_nodes, sizeof(*node_pc));
        uniform = calloc(prog->n_nodes, sizeof(*uniform));
        if (!node_pc || !uniform)
            return -ENOMEM;
    }
    e = calloc(1, sizeof(*e));
    if (!e)
        return -ENOMEM;
    e->note = TAKE_PTR(note);
    e->node_pc = TAKE_PTR(node_pc);
    e->uniform = TAKE_PTR(uniform);
    if (policy) {
        e->prog = prog;
        compute_uniform(e);
        assemble(e);
    }
    if (!policy || e->n > BPF_MAXINSNS || e->bad_jump) {
        e->notify_all = true;
        e->prog = NULL;
        e->bad_jump = false;
        assemble(e);
    }
    if (e->bad_jump || e->n > BPF_MAXINSNS)
        return -E2BIG; /* the fixed part alone cannot fail this way */
    e->prog = NULL;    /* freed below; only the instructions are kept */
    *ret_e = TAKE_PTR(e);
    return 0;
}

int filter_build(const struct mmsg_policy *policy, bool audit_all, struct filter_prog *ret)
{
    cleanup_(emitter_freep) struct emitter *e = NULL;
    struct sock_filter *insns;
    int r;

    r = build(policy, audit_all, false, &e);
    if (r < 0)
        return r;
    insns = malloc(e->n * sizeof(*insns));
    if (!insns)
        return -ENOMEM;
    memcpy(insns, e->insn, e->n * sizeof(*insns));
    ret->fprog.len = (unsigned short)e->n;
    ret->fprog.filter = insns;
    ret->notify_all = e->notify_all;
    return 0;
}

void filter_done(struct filter_prog *prog)
{
    free(prog->fprog.filter);
    prog->fprog.filter = NULL;
    prog->fprog.len = 0;
}

static const char *op_name(uint16_t code)
{
    switch (code) {
    case BPF_LD | BPF_W | BPF_ABS:
        return "ld";
    case BPF_ALU | BPF_XOR | BPF_K:
        return "xor";
    case BPF_ALU | BPF_AND | BPF_K:
        return "and";
    case BPF_JMP | BPF_JA:
        return "ja";
    case BPF_JMP | BPF_JEQ | BPF_K:
        return "jeq";
    case BPF_JMP | BPF_JGT | BPF_K:
        return "jgt";
    case BPF_JMP | BPF_JGE | BPF_K:
        return "jge";
    case BPF_JMP | BPF_JSET | BPF_K:
        return "jset";
    case BPF_RET | BPF_K:
        return "ret";
    default:
        return "?";
    }
}

static void print_tree(const struct mmsg_kprog *p, FILE *f)
{
    for (int sys = 0; sys < MMSG_SYS_MAX_; sys++) {
        size_t end = sys + 1 < MMSG_SYS_MAX_ ? p->root[sys + 1] : p->n_nodes;

        fprintf(f, "# %s:\n", mmsg_syscall_name((enum mmsg_syscall)sys));
        for (size_t i = p->root[sys]; i < end; i++) {
            const struct mmsg_knode *n = &p->nodes[i];
            char names[96];

            fprintf(f, "#   n%zu: ", i);
            switch (n->test) {
            case MMSG_KTEST_LEAF:
                fprintf(f, "%s", mmsg_kverdict_name(n->verdict));
                if (n->verdict == MMSG_KVERDICT_ERRNO)
                    fprintf(f, " %s",
                            mmsg_errno_name(n->errno_value) ? mmsg_errno_name(n->errno_value)
                                                            : "?");
                if (n->rule_index >= 0)
                    fprintf(f, " <- rules[%d]", n->rule_index);
                else if (n->rule_index == -1)
                    fprintf(f, " <- default");
                if (n->verdict == MMSG_KVERDICT_NOTIFY)
                    fprintf(f, " (%s)", mmsg_kwhy_name(n->why));
                (void)fputc('\n', f); /* stdio errors surface at the caller's fflush() */
                continue;
            case MMSG_KTEST_FD:
                fprintf(f, "fd in [%" PRId64 ", %" PRId64 "]", n->lo, n->hi);
                break;
            case MMSG_KTEST_VLEN:
                fprintf(f, "vlen in [%" PRId64 ", %" PRId64 "]", n->lo, n->hi);
                break;
            case MMSG_KTEST_FLAGS_ANY:
            case MMSG_KTEST_FLAGS_ALL:
            case MMSG_KTEST_FLAGS_NONE:
                (void)mmsg_msg_flags_format(n->mask, names, sizeof(names));
                fprintf(f, "flags %s %s",
                        n->test == MMSG_KTEST_FLAGS_ANY   ? "any"
                        : n->test == MMSG_KTEST_FLAGS_ALL ? "all"
                                                          : "none",
                        names);
                break;
            case MMSG_KTEST_TIMEOUT_NULL:
                fprintf(f, "timeout NULL");
                break;
            case MMSG_KTEST_MAX_:
            default:
                fprintf(f, "?");
                break;
            }
            fprintf(f, " ? n%" PRIu32 " : n%" PRIu32 "\n", n->on_true, n->on_false);
        }
    }
}

int filter_print(const struct mmsg_policy *policy, bool audit_all, FILE *f)
{
    cleanup_(emitter_freep) struct emitter *e = NULL;
    cleanup_(kprog_freep) struct mmsg_kprog *prog = NULL;
    int r;

    r = build(policy, audit_all, true, &e);
    if (r < 0)
        return r;
    fprintf(f, "# mmsgate seccomp filter: %zu BPF instructions%s%s\n", e->n,
            e->long_jumps ? " (long jumps)" : "",
            e->notify_all && policy ? "; the policy's tree did not fit: every call is notified"
                                    : "");
    if (policy) {
        r = mmsg_policy_compile(policy, audit_all ? MMSG_COMPILE_AUDIT_ALL : 0, &prog);
        if (r < 0)
            return r;
        fprintf(f,
                "# decision tree per route (rules in order; \"a ? b : c\": test a, then node b "
                "if it holds, else c)%s:\n",
                audit_all ? ", with --audit-all" : "");
        print_tree(prog, f);
    }
    for (size_t i = 0; i < e->n; i++) {
        const struct sock_filter *in = &e->insn[i];
        uint16_t cls = BPF_CLASS(in->code);

        fprintf(f, "%04zu: %-4s ", i, op_name(in->code));
        if (cls == BPF_LD)
            fprintf(f, "[%" PRIu32 "]%-16s", in->k, "");
        else if (cls == BPF_JMP && BPF_OP(in->code) == BPF_JA)
            fprintf(f, "-> %04zu%-14s", i + 1 + in->k, "");
        else if (cls == BPF_JMP)
            fprintf(f, "#0x%08" PRIx32 " ? %04zu : %04zu", in->k, i + 1 + in->jt, i + 1 + in->jf);
        else
            fprintf(f, "#0x%08" PRIx32 "%-11s", in->k, "");
        fprintf(f, "%s%s\n", e->note[i][0] ? "  ; " : "", e->note[i]);
    }
    return ferror(f) ? -EIO : 0;
}

int filter_write_bpf(const struct mmsg_policy *policy, bool audit_all, const char *path)
{
    struct filter_prog prog = {0};
    cleanup_close int fd = -1;
    size_t len;
    ssize_t n;
    int r;

    r = filter_build(policy, audit_all, &prog);
    if (r < 0)
        return r;
    len = prog.fprog.len * sizeof(struct sock_filter);
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        r = -errno;
        goto out;
    }
    n = write(fd, prog.fprog.filter, len);
    if (n < 0)
        r = -errno;
    else if ((size_t)n != len)
        r = -EIO;
out:
    filter_done(&prog);
    return r;
}

int filter_install(const struct filter_prog *prog)
{
    /* No new privileges: required to load a filter without CAP_SYS_ADMIN, and it stops PROG
     * from regaining privileges through set-uid binaries. */
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
        return -errno;
    /* WAIT_KILLABLE_RECV: once the broker has received a call, non-fatal signals no longer
     * abort it, so datagrams the broker dequeued on the caller's behalf are never lost. */
    return kernel_seccomp_load(
        SECCOMP_FILTER_FLAG_NEW_LISTENER | SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV, &prog->fprog);
}
