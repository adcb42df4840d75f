import { AddressFilter } from "../mod.ts";
import assert from "node:assert/strict";

Deno.test("AddressFilter matches IPv4 and IPv6 CIDR blocks", () => {
  const f = AddressFilter.parse("10.0.0.0/8, 192.168.1.0/24,2001:db8::/32,::1");
  assert.ok(f.allows("10.255.0.1"));
  assert.ok(f.allows("192.168.1.200"));
  assert.ok(!f.allows("192.168.2.1"));
  assert.ok(f.allows("2001:db8:1::5"));
  assert.ok(!f.allows("2001:db9::1"));
  assert.ok(f.allows("::1"));
  assert.ok(!f.allows("::2"));
  assert.ok(f.allows("::ffff:10.1.1.1"), "IPv4-mapped IPv6 is IPv4");
  assert.ok(!f.allows("not an address"));
  assert.ok(AddressFilter.parse("0.0.0.0/0").allows("8.8.8.8"));
  assert.ok(!AddressFilter.parse("0.0.0.0/0").allows("::1"));
});

Deno.test("AddressFilter rejects malformed entries with a clear message", () => {
  for (
    const bad of [
      "",
      "10.0.0.0/33",
      "10.0.0/8",
      "1.2.3.4/x",
      "::1/129",
      "1.2.3.4/8/2",
      "fe80:::1",
      "256.1.1.1",
    ]
  ) {
    assert.throws(() => AddressFilter.parse(bad), SyntaxError, bad);
  }
  assert.throws(
    () => AddressFilter.parse("10.0.0.0/33"),
    /Invalid address or CIDR block "10.0.0.0\/33"/,
  );
});
