import { describe, expect, it } from 'vitest';
import { HubError } from '../../emulator/errors.js';
import { readDeploymentContent, resolveDeployments, sameDesired, type DeploymentContender } from '../../emulator/configurations/deployment-content.js';

const base = (id: string, priority: number, agent: object): DeploymentContender => ({
  id,
  priority,
  content: readDeploymentContent({ $edgeAgent: { 'properties.desired': agent }, $edgeHub: { 'properties.desired': { routes: {} } } } as never),
});
const layer = (id: string, priority: number, modulesContent: object): DeploymentContender => ({
  id,
  priority,
  content: readDeploymentContent(modulesContent as never),
});

describe('deployment content (docs/protocol.md §17.1)', () => {
  it('classifies a deployment with a properties.desired.{path} key as layered, one with whole documents as base', () => {
    expect(readDeploymentContent({ $edgeAgent: { 'properties.desired.modules.x': {} } } as never).layered).toBe(true);
    expect(base('b', 1, {}).content.layered).toBe(false);
  });

  it('refuses a base deployment without $edgeAgent or $edgeHub, bad keys and bad module ids', () => {
    const refused = (content: object) => {
      try {
        readDeploymentContent(content as never);
      } catch (error) {
        expect(error).toBeInstanceOf(HubError);
        return (error as HubError).message;
      }
      throw new Error('accepted');
    };
    expect(refused({ $edgeAgent: { 'properties.desired': {} } })).toContain("'$edgeHub'");
    expect(refused({ $edgeHub: { 'properties.desired': {} }, sensor: { 'properties.desired': {} } })).toContain("'$edgeAgent'");
    expect(refused({ $edgeAgent: { desired: {} } })).toContain('not a desired-property path');
    expect(refused({ $edgeAgent: { 'properties.desired..x': 1 } })).toContain('not a desired-property path');
    expect(refused({ $other: { 'properties.desired.x': 1 } })).toContain('not a module id');
    expect(refused({ 'a/b': { 'properties.desired.x': 1 } })).toContain('not a module id');
    expect(refused({ $edgeAgent: {} })).toContain('must be an object');
    expect(refused({ $edgeAgent: { 'properties.desired': 3 }, $edgeHub: { 'properties.desired': {} } })).toContain('JSON object');
  });

  it('applies the highest-precedence base only, and layers above its priority lowest first', () => {
    const contenders = [
      layer('l30', 30, { $edgeAgent: { 'properties.desired.modules.m.image': 'v30' } }),
      layer('l20', 20, { $edgeAgent: { 'properties.desired.modules.m': { image: 'v20', type: 'docker' } }, custom: { 'properties.desired': { a: 1 } } }),
      base('b10', 10, { schemaVersion: '1.1', modules: { s: {} } }),
      base('b5', 5, { schemaVersion: '1.0', other: true }),
      layer('l1', 1, { $edgeAgent: { 'properties.desired.modules.low': {} } }),
    ];
    const r = resolveDeployments(contenders);
    expect(r.baseId).toBe('b10');
    expect(Object.fromEntries(r.applied)).toEqual({ l30: true, l20: true, b10: true, b5: false, l1: false });
    expect(r.modules.get('$edgeAgent')).toEqual({ schemaVersion: '1.1', modules: { s: {}, m: { image: 'v30', type: 'docker' } } });
    expect(r.modules.get('custom')).toEqual({ a: 1 });
    expect(r.modules.get('$edgeHub')).toEqual({ routes: {} });
  });

  it('applies nothing without a base deployment', () => {
    const r = resolveDeployments([layer('l', 9, { $edgeAgent: { 'properties.desired.modules.m': {} } })]);
    expect(r.modules.size).toBe(0);
    expect(r.applied.get('l')).toBe(false);
  });

  it('does not change the deployment content it composes from', () => {
    const b = base('b', 1, { modules: {} });
    resolveDeployments([layer('l', 2, { $edgeAgent: { 'properties.desired.modules.m': {} } }), b]);
    expect(b.content.modules.get('$edgeAgent')!.whole).toEqual({ modules: {} });
  });

  it('compares desired documents regardless of key order', () => {
    expect(sameDesired({ a: 1, b: { c: [1, { d: 2, e: 3 }] } }, { b: { c: [1, { e: 3, d: 2 }] }, a: 1 })).toBe(true);
    expect(sameDesired({ a: 1 }, { a: 1, b: null })).toBe(false);
  });
});
