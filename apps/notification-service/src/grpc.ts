import { notificationV1 } from '@bank/contracts';
import { DomainError, fieldError, isOperator, isUuid } from '@bank/kernel';
import { callerOf, implement, parseTimeIdCursor, timeIdCursor, type Database, type Logger, type ServiceBinding } from '@bank/platform';
import { DeliverySchema } from './entities';
import { LOG_MAX_PAGE } from './notifications';

const DEFAULT_PAGE = 20;

/** The notification log over gRPC: what was sent to whom and how it went; a user's own, or anyone's for operators. */
export function notificationGrpcService(db: Database, opts: { logger: Logger }): ServiceBinding {
  return implement(
    notificationV1.NotificationServiceService,
    {
      listNotifications: async (req, ctx) => {
        const caller = await callerOf(ctx);
        const userId = req.userId === '' ? caller.userId : req.userId;
        if (!userId || !isUuid(userId)) throw fieldError('VALIDATION_FAILED', 'userId', 'must be a UUID');
        if (userId !== caller.userId && !isOperator(caller)) throw new DomainError('NOT_FOUND', 'no such user');
        const limit = req.limit === 0 ? DEFAULT_PAGE : Math.min(req.limit, LOG_MAX_PAGE);
        const after = parseTimeIdCursor(req.cursor);
        const owner = userId.toLowerCase();
        // Newest first by (createdAt, id); the cursor is the last row shown.
        const rows = await db.em().find(
          DeliverySchema,
          after ? { userId: owner, $or: [{ createdAt: { $lt: after.createdAt } }, { createdAt: after.createdAt, id: { $lt: after.id } }] } : { userId: owner },
          { orderBy: [{ createdAt: 'desc' }, { id: 'desc' }], limit: limit + 1, fields: ['id', 'userId', 'template', 'status', 'eventId', 'createdAt'] },
        );
        const page = rows.slice(0, limit);
        const last = page[page.length - 1];
        return {
          notifications: page.map((r) => ({ id: r.id, userId: r.userId, channel: 'email', template: r.template, status: r.status, eventId: r.eventId, createdAt: r.createdAt })),
          nextCursor: rows.length > limit && last ? timeIdCursor(last.createdAt, last.id) : '',
        };
      },
    },
    opts,
  );
}
