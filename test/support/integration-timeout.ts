// Integration specs talk to the real Redis and BullMQ; a few wait for reconnections.
jest.setTimeout(20000);
