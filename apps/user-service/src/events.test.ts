import { checkEventRouting } from '@bank/platform';
import { userEventHandlers } from './container';

describe("user-service's event handlers", () => {
  it('handle exactly the event types the catalogue routes to user-service', () => {
    expect(() => checkEventRouting('user-service', userEventHandlers(() => ({ createProfile: async () => undefined })))).not.toThrow();
  });
});
