// E2E specs start real processes: give each test room (they wait for conditions, not sleeps).
jest.setTimeout(60000);
