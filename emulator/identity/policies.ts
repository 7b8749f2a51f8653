// Well-known development credentials, like Azurite's account key: fixed and documented so a hub
// connection string stays the same across runs and machines. They protect nothing; never reuse
// them on a real hub.

export type Permission = 'RegistryRead' | 'RegistryWrite' | 'ServiceConnect' | 'DeviceConnect';

export interface Policy {
  readonly keyName: string;
  readonly primaryKey: string;
  readonly secondaryKey: string;
  readonly rights: readonly Permission[];
}

export const wellKnownPolicies: readonly Policy[] = [
  {
    keyName: 'iothubowner',
    primaryKey: 'rRLBpgnCo0Oa8ww60kU1nM5HT4L3rAVjRIb3RRiooFk=',
    secondaryKey: 'liUfQN03nAAZRUtnQ49mGaY4yjYg5fqkXSPaA/07JXA=',
    rights: ['RegistryRead', 'RegistryWrite', 'ServiceConnect', 'DeviceConnect'],
  },
  {
    keyName: 'service',
    primaryKey: '/bAiRJykaPg8V1NLrhdqKVR2WvSJhcSRGCYSR7p/bnI=',
    secondaryKey: 'ty+pTnPKHXofzfwYCtTsSZ1dyOOViOwuCIwJS+pccmw=',
    rights: ['ServiceConnect'],
  },
  {
    keyName: 'registryRead',
    primaryKey: 'x0Zhq1IcGQ9kddDC3Pm+tsjTlOeSD9q1P1pCBqCIpFw=',
    secondaryKey: 'jc2qX4/fCzkYYCa5XdzO54ywh7tgBCWSlS0pDYFvzkg=',
    rights: ['RegistryRead'],
  },
  {
    keyName: 'registryReadWrite',
    primaryKey: 'h2if3fsZ99B4AkVnrBf9Aq+bJ647eQWGQH58UbyEh28=',
    secondaryKey: '5+1zv6R+0vsY69qEiPo+auUSQUVOfZ1dIe344Fni1NM=',
    rights: ['RegistryRead', 'RegistryWrite'],
  },
  {
    keyName: 'device',
    primaryKey: 'BylNWZYDEQNjd0ZJtJWSc+/M9q2ji9xopbnHq9mSCX4=',
    secondaryKey: 'poyNYxkgHyVQz99OMHGq+iqzi/DGWT1BYbq9Le7/itY=',
    rights: ['DeviceConnect'],
  },
];

const byName = new Map(wellKnownPolicies.map((p) => [p.keyName.toLowerCase(), p]));

export function findPolicy(keyName: string): Policy | undefined {
  return byName.get(keyName.toLowerCase());
}
