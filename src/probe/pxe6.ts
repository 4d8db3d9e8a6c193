// What PXE firmware does for IPv6 before it boots (UEFI, iPXE): a router solicitation, and a
// DHCPv6 exchange only once a router advertisement says M=1 (UEFI does no DHCPv6 without it;
// iPXE waits ~16 s for an RA that never comes). The lab's client runs this (`ha-oscar lab
// _probe pxe6`) to check the RA path from both heads and time it, before and after a failover.
import { solicit, type RouterAdvert } from './ra';
import { dhcpLease } from './dhcp';

export interface Pxe6Options {
  iface: string;
  /** DHCPv6 client MAC (DUID-LL). */
  mac: string;
  /** How long one solicitation waits for an RA (rdisc6 -w); the firmware's patience. Default 1000 ms. */
  raWaitMs?: number;
  /** Solicitations sent (each waits raWaitMs for an RA) before giving up. Default 3 (RFC 4861's MAX_RTR_SOLICITATIONS). */
  solicitations?: number;
  /** Budget of one DHCPv6 exchange (SOLICIT/ADVERTISE/REQUEST/REPLY). Default 4000 ms. */
  dhcpTimeoutMs?: number;
  /** Retry the DHCPv6 exchange until this long after the solicitation (0: one exchange). */
  waitMs?: number;
  rdisc6?: string;
}

export interface Pxe6Result {
  ok: boolean;
  error?: string;
  /** ms from sending the (first) router solicitation to the RA (to rdisc6's exit: an upper bound by its start-up). */
  raMs?: number;
  /** Solicitations sent until the RA came (1: the first one was answered). */
  solicitations?: number;
  /** The RA that answered. */
  ra?: RouterAdvert;
  /** ms from the (first) router solicitation to the DHCPv6 REPLY. */
  replyMs?: number;
  /** DHCPv6 exchanges made. */
  attempts: number;
  address?: string;
  /** The DHCPv6 server's DUID (hex). */
  serverId?: string;
  /** Where the REPLY came from (the server's link-local address, %iface). */
  from?: string;
  bootFile?: string;
  /** Epoch ms of the REPLY (or of the failure). */
  at: number;
}

/** A router solicitation; then, once an RA with M=1 answered it, a DHCPv6 lease. Never throws. */
export async function pxe6(o: Pxe6Options): Promise<Pxe6Result> {
  const raWaitMs = o.raWaitMs ?? 1000;
  const tries = o.solicitations ?? 3;
  const t0 = Date.now();
  // one rdisc6 per solicitation (not its -r): the count of solicitations sent is then exact
  let ra: RouterAdvert | undefined;
  let why = 'no answer';
  let solicitations = 0;
  while (!ra && solicitations < tries) {
    solicitations++;
    const rs = await solicit(o.iface, { waitMs: raWaitMs, rdisc6: o.rdisc6 });
    ra = rs.adverts[0];
    if (!ra) why = rs.error ?? 'no answer';
  }
  const raMs = Date.now() - t0;
  if (!ra) return { ok: false, error: `no router advertisement after ${solicitations} solicitation(s), ${raWaitMs} ms each: ${why}`, raMs, solicitations, attempts: 0, at: Date.now() };
  // firmware does DHCPv6 only when the RA says M=1 (addresses by DHCPv6)
  if (!ra.managed) return { ok: false, error: `the router advertisement from ${ra.from} has M=0: firmware does no DHCPv6`, raMs, solicitations, ra, attempts: 0, at: Date.now() };
  let attempts = 0;
  for (;;) {
    attempts++;
    const r = await dhcpLease({ family: 6, iface: o.iface, mac: o.mac, timeoutMs: o.dhcpTimeoutMs ?? 4000, retransmitMs: 500 });
    const at = Date.now();
    if (r.ok && r.address !== undefined) {
      return { ok: true, raMs, solicitations, ra, replyMs: at - t0, attempts, address: r.address, serverId: r.serverId, from: r.from, bootFile: r.bootFile, at };
    }
    if (at - t0 >= (o.waitMs ?? 0)) return { ok: false, error: `DHCPv6 after the RA: ${r.error ?? 'no address in the answer'}`, raMs, solicitations, ra, attempts, at };
    await new Promise((res) => setTimeout(res, 200));
  }
}
