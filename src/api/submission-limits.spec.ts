import { restValidationPipe } from './rest/validation.pipe';
import { AuthenticatedScanDto } from './rest/dto/submit-scan.dto';
import { runAuthenticatedScanInput } from './mcp/tools/tool-schemas';
import { SUBMISSION_LIMITS as L } from '../scans/submission-limits';

const base = {
  targets: '192.0.2.1',
  name: 'limits',
  scan_type: 'authenticated',
  ssh_username: 'scanuser',
  ssh_password: 'secret',
};

/** The same body accepted or refused by REST (DTO and pipe) and by MCP (the tool's input schema). */
async function verdicts(body: Record<string, unknown>): Promise<{ rest: boolean; mcp: boolean }> {
  const rest = await restValidationPipe()
    .transform(body, { type: 'body', metatype: AuthenticatedScanDto })
    .then(
      () => true,
      () => false,
    );
  return { rest, mcp: runAuthenticatedScanInput.safeParse(body).success };
}

describe('submission size limits, REST and MCP alike', () => {
  it.each([
    ['name', L.name],
    ['description', L.description],
    ['idempotency_key', L.idempotencyKey],
    ['targets', L.targetsText],
    ['ssh_username', L.sshUsername],
    ['ssh_password', L.sshPassword],
    ['ssh_private_key', L.sshPrivateKey],
    ['escalation_account', L.escalationAccount],
    ['escalation_password', L.escalationPassword],
  ])('%s: %i characters pass both, one more is refused by both', async (field, max) => {
    expect(await verdicts({ ...base, [field]: 'x'.repeat(max) })).toEqual({ rest: true, mcp: true });
    expect(await verdicts({ ...base, [field]: 'x'.repeat(max + 1) })).toEqual({ rest: false, mcp: false });
  });

  it('a targets list: entries and entry length', async () => {
    const list = (entries: number, length = 9) => Array.from({ length: entries }, () => 'x'.repeat(length));
    expect(await verdicts({ ...base, targets: list(L.targetEntries) })).toEqual({ rest: true, mcp: true });
    expect(await verdicts({ ...base, targets: list(L.targetEntries + 1) })).toEqual({
      rest: false,
      mcp: false,
    });
    expect(await verdicts({ ...base, targets: list(1, L.targetsText) })).toEqual({ rest: true, mcp: true });
    expect(await verdicts({ ...base, targets: list(1, L.targetsText + 1) })).toEqual({
      rest: false,
      mcp: false,
    });
  });
});
