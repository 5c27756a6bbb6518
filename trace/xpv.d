/*
 * xpv.d - the one declaration of the xvm USDT provider "xpv".
 *
 * Names follow Solaris xVM's DTrace xpv provider where it had one
 * (dom-create-start, setvcpucontext-end, ...). Documented in docs/probes.md.
 * Arguments: domid is the domain id (0 for a standalone `xvm run`), rc is 0
 * or a negative errno.
 */
provider xpv {
	/* control path (VMM) */
	probe dom__create__start(int domid, char *name);
	probe dom__create__end(int domid, int rc);
	probe set__memory__map__start(int domid, int slot, unsigned long long gpa, unsigned long long size);
	probe set__memory__map__end(int domid, int slot, int rc);
	probe populate__physmap__start(int domid, unsigned long long bytes);
	probe populate__physmap__end(int domid, int rc);
	probe vcpu__create(int domid, int vcpu);
	probe setvcpucontext__start(int domid, int vcpu);
	probe setvcpucontext__end(int domid, int vcpu, int rc);
	probe dom__unpause__start(int domid);
	probe dom__unpause__end(int domid, int rc);
	probe dom__destroy__start(int domid);
	probe dom__destroy__end(int domid, int rc);
	/* control socket requests (xvm run --control): cmd is the command
	   name, rc 0 or -errno */
	probe control__start(int domid, char *cmd);
	probe control__end(int domid, char *cmd, int rc);
	/* xvmd lifecycle operations (API ops create, destroy, shutdown, reboot,
	   pause, unpause, block-attach, ...): domid 0 at create start */
	probe lifecycle__start(char *op, int domid);
	probe lifecycle__end(char *op, int domid, int rc);
	/* one per VM exit handled in userspace: reason is KVM_EXIT_*, addr the
	   port or guest-physical address (0 when none) */
	probe exit(int domid, int vcpu, int reason, unsigned long long addr);
	/* ACPI PM events: event is "poweroff", "reset", "sleep" or "pwrbtn" */
	probe acpi__pm(int domid, char *event, unsigned int value);
	probe hotplug__add(int domid, char *kind, int slot, int result);
	probe hotplug__remove(int domid, char *kind, int slot, int result);

	/* virtio devices: a queue kick reached the device (ioeventfd), an
	   interrupt was sent (vector 0xffff: INTx) */
	probe virtio__notify(int domid, char *dev, int queue);
	probe virtio__irq(int domid, char *dev, int queue, int vector);
	/* virtio-blk requests: op is VIRTIO_BLK_T_* (0 read, 1 write, 4 flush,
	   8 get-id, 11 discard, 13 write-zeroes); rc 0 or -errno */
	probe blk__req__start(int domid, char *disk, int op, unsigned long long sector, unsigned int bytes);
	/* six arguments (bpftrace reads arg0..arg5): the domain is in -start */
	probe blk__req__done(char *disk, int op, unsigned long long sector, unsigned int bytes, int rc, unsigned long long latency_ns);
	/* virtio-rng: one request answered with bytes of entropy */
	probe rng__req(int domid, unsigned int bytes);

	/* virtio-console: bytes moved on a port (dir 0: host -> guest, 1: guest -> host),
	 * and guest output the host side did not take (no client, socket full) */
	probe vcon__io(int domid, int port, int dir, unsigned int bytes);
	probe vcon__drop(int domid, int port, unsigned int bytes);
	/* virtio-net: frames moved guest->tap (tx) or tap->guest (rx) in one
	   batch; a tap read/write error (rc -errno); a frame dropped (why) */
	probe net__tx(int domid, int nic, unsigned int bytes, unsigned int packets);
	probe net__rx(int domid, int nic, unsigned int bytes, unsigned int packets);
	probe net__tap__error(int domid, int nic, int rc);
	probe net__drop(int domid, int nic, char *why);
	/* the data path a NIC uses: "userspace" (or, later, "vhost") */
	probe net__backend(int domid, int nic, char *path);
	/* pvpanic: the guest wrote event (1 panicked, 2 crash kernel loaded) */
	probe guest__panic(int domid, unsigned int event);

	/* store (xvmstored) */
	probe store__op__start(int conn, int domid, char *op, char *path, unsigned int tx);
	/* six arguments: bpftrace reads at most arg0..arg5 of a USDT probe */
	probe store__op__done(int conn, char *op, char *path, unsigned int tx, int rc, unsigned long long latency_ns);
	probe store__tx__commit(int conn, unsigned int tx);
	probe store__tx__abort(int conn, unsigned int tx, int rc);
	probe store__watch__fire(int conn, char *path, char *token);

	/* block layer: one new host cluster handed out in a qcow2 image */
	probe qcow2__alloc(char *path, unsigned long long host_off);
};
