import { useState } from 'preact/hooks';
import { api, type ModuleInfo } from '../api';
import { ago } from '../format';
import { Card, ConnectionBadge, ErrorBox } from './ui';

export const modulePath = (deviceId: string, moduleId: string): string => `/devices/${encodeURIComponent(deviceId)}/modules/${encodeURIComponent(moduleId)}`;

/**
 * The device's module identities (as `Registry.getModulesOnDevice` lists them) with their
 * connection state and last activity, live; each opens the module's page (its twin and direct
 * methods). A module is added as `Registry.addModule` adds one: the hub's refusal (409 when the
 * id is taken, 413 past 50 modules) shows where it was typed.
 */
export function ModulesCard({ deviceId, modules, onChanged }: { deviceId: string; modules: ModuleInfo[]; onChanged: () => Promise<unknown> }) {
  const [newId, setNewId] = useState('');
  const [error, setError] = useState<unknown>();
  const add = async (): Promise<void> => {
    setError(undefined);
    try {
      await api('POST', `/devices/${encodeURIComponent(deviceId)}/modules`, { moduleId: newId.trim() });
      setNewId('');
      await onChanged();
    } catch (e) {
      setError(e);
    }
  };
  return (
    <Card title={`Modules (${modules.length})`}>
      <div class="modules-scroll">
        <table class="table compact modules-table" aria-label="Modules">
          <colgroup>
            <col />
            <col style={{ width: '130px' }} />
            <col style={{ width: '130px' }} />
          </colgroup>
          <thead>
            <tr>
              <th>Module ID</th>
              <th>Connection</th>
              <th>Last activity</th>
            </tr>
          </thead>
          <tbody>
            {modules.length === 0 && (
              <tr>
                <td colSpan={3} class="empty">
                  No module identities on this device.
                </td>
              </tr>
            )}
            {modules.map((m) => (
              <tr key={m.moduleId} data-module-id={m.moduleId}>
                <td class="ellipsis">
                  <a class="mono" href={modulePath(deviceId, m.moduleId)}>
                    {m.moduleId}
                  </a>
                  {m.managedBy && <span class="muted small"> · {m.managedBy}</span>}
                </td>
                <td>
                  <ConnectionBadge state={m.connectionState} />
                </td>
                <td class="muted small" title={m.lastActivityTime}>
                  {ago(m.lastActivityTime)}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      <form
        class="row add-module"
        onSubmit={(e) => {
          e.preventDefault();
          void add();
        }}
      >
        <label class="field-inline small">
          <span class="sr-only">New module ID</span>
          <input
            class="mono"
            value={newId}
            onInput={(e) => setNewId((e.target as HTMLInputElement).value)}
            placeholder="new module ID"
            aria-label="New module ID"
          />
        </label>
        <button class="btn btn-small" type="submit" disabled={newId.trim() === ''}>
          Add module
        </button>
      </form>
      <ErrorBox error={error} />
    </Card>
  );
}
