import { SendFaults } from './send-faults';

describe('SendFaults', () => {
  it('is ok when nothing is armed', () => {
    expect(new SendFaults().take('1')).toBe('ok');
  });

  it('faults the next `count` sends of that phone only, then is ok again', () => {
    const faults = new SendFaults();
    faults.set('1', 'fail', 2);
    expect(faults.take('2')).toBe('ok');
    expect([faults.take('1'), faults.take('1'), faults.take('1')]).toEqual(['fail', 'fail', 'ok']);
  });

  it('without a count faults until set back to ok', () => {
    const faults = new SendFaults();
    faults.set('1', 'hang');
    expect([faults.take('1'), faults.take('1'), faults.take('1')]).toEqual([
      'hang',
      'hang',
      'hang',
    ]);
    faults.set('1', 'ok');
    expect(faults.take('1')).toBe('ok');
  });
});
